"""Transport to EvalAI: one session, the Authorization header, a (connect, read) timeout on every
request, and one retry policy around every call. The endpoints are `worker.evalai.client`'s.
I/O: HTTP(S) requests through a `requests.Session`; sleeps through the injected `sleep`.

Retried, with bounded jittered exponential backoff: connection errors, timeouts, 5xx and 429
(honouring a Retry-After within bounds) — all raised as TransientError by `send`. Any other answer
is returned for the caller to read (`worker.evalai.responses`); 4xx is never retried.
The token never appears in a repr, message or log line; headers are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from worker.errors import PermanentError, TransientError
from worker.evalai.responses import body_summary, ok_json, response_body, retry_after_seconds
from worker.settings import EvalAIConnection

log = logging.getLogger(__name__)


def authorization(token: str) -> str:
    """The Authorization header for an EvalAI token. The profile page's token is a JWT, sent as
    `Bearer`; the key `/api/auth/login` returns (40 hex characters) is sent as `Token`, which
    EvalAI accepts too."""
    if len(token) == 40 and all(ch in "0123456789abcdef" for ch in token):
        return f"Token {token}"
    return f"Bearer {token}"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retrying transient failures of one call."""

    max_attempts: int = 5
    backoff_initial: float = 1.0  # seconds before the first retry, doubling after
    backoff_max: float = 30.0
    jitter: float = 1.0  # up to this many seconds added at random (then capped at backoff_max)
    max_retry_after: float = 120.0  # a longer Retry-After ends the call with TransientError
    max_elapsed: float = 300.0  # by the injected clock, across all attempts of one call



class EvalAITransport:
    """Requests to one EvalAI server as one user. `sleep` and `clock` are injectable so tests
    never really wait; `session` lets callers share or instrument connection pools."""

    def __init__(
        self,
        connection: EvalAIConnection,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        token = connection.auth_token.strip()
        if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
            # requests would echo a malformed header value, token included, in its error
            raise ValueError("AUTH_TOKEN is empty or contains whitespace or control characters")
        server = urlsplit(connection.api_server)
        if server.scheme not in ("http", "https") or not server.netloc:
            raise ValueError(
                f"API_SERVER must be an http(s) URL such as https://eval.ai, "
                f"got {connection.api_server!r}"
            )
        retry = retry or RetryPolicy()
        if retry.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {retry.max_attempts!r}")
        self._base = connection.api_server.rstrip("/")
        self._auth = {"Authorization": authorization(token)}
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        self.requests_sent = 0

    @property
    def base(self) -> str:
        return self._base

    def close(self) -> None:
        self._session.close()

    def url(self, path: str) -> str:
        return self._base + path

    def json(self, method: str, path: str, what: str, *, data: Any = None) -> dict[str, Any]:
        return ok_json(self.request(method, self.url(path), what, data=data), what)

    def request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        data: Any = None,
        final_statuses: frozenset[int] = frozenset(),
    ) -> requests.Response:
        return self.retrying(
            lambda: self.send(method, url, what, data=data, final_statuses=final_statuses), what
        )

    def send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        data: Any = None,
        auth: bool = True,
        stream: bool = False,
        raw_bytes: bool = False,
        final_statuses: frozenset[int] = frozenset(),
    ) -> requests.Response:
        """One attempt. Raises TransientError for what may pass; returns any other answer.
        `auth=False` sends no Authorization header; `raw_bytes` asks for no content coding."""
        log.debug("EvalAI %s %s (%s)", method, urlsplit(url).path, what)
        if urlsplit(url).netloc == urlsplit(self._base).netloc:
            self.requests_sent += 1  # what counts against EvalAI's 60 requests/minute per user
        headers = dict(self._auth) if auth else {}
        if raw_bytes:
            headers["Accept-Encoding"] = "identity"
        try:
            response = self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self._timeout,
                stream=stream,
            )
        except requests.Timeout as exc:
            late = f"{what}: EvalAI did not answer in time ({short_error(exc)})"
            raise TransientError(late) from exc
        except requests.ConnectionError as exc:
            raise TransientError(f"{what}: could not reach EvalAI ({short_error(exc)})") from exc
        except requests.RequestException as exc:
            raise PermanentError(f"{what}: request failed ({short_error(exc)})") from exc
        status = response.status_code
        if status in final_statuses:
            return response
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response) if status == 429 else None
            summary = body_summary(response_body(response))
            response.close()
            raise TransientError(
                f"{what}: EvalAI answered {status} ({summary})",
                status_code=status,
                retry_after=retry_after,
            )
        return response

    def retrying(self, attempt: Callable[[], Any], what: str) -> Any:
        policy = self._retry
        started = self._clock()
        backoff = tenacity.wait_exponential_jitter(
            multiplier=policy.backoff_initial, max=policy.backoff_max, jitter=policy.jitter
        )

        def wait(state: tenacity.RetryCallState) -> float:
            retry_after = getattr(_outcome_error(state), "retry_after", None)
            return float(retry_after) if retry_after is not None else backoff(state)

        def stop(state: tenacity.RetryCallState) -> bool:
            retry_after = getattr(_outcome_error(state), "retry_after", None)
            return (
                state.attempt_number >= policy.max_attempts
                or (retry_after is not None and retry_after > policy.max_retry_after)
                or self._clock() - started >= policy.max_elapsed
            )

        def before_sleep(state: tenacity.RetryCallState) -> None:
            log.warning(
                "%s failed (%s); retry %d of %d in %.1f s",
                what,
                _outcome_error(state),
                state.attempt_number,
                policy.max_attempts - 1,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=stop,
            wait=wait,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)


def _outcome_error(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def short_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
