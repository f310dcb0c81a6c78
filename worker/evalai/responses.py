"""Reading EvalAI's answers, for the client (`worker.evalai.client`) only. Pure: inspects responses
already received (status, headers, body) and never sends anything.

- `ok_json`: the JSON object of a 2xx answer; any other answer raises the `worker.errors` error it
  maps onto (401/403 and "not a host" -> AuthError, 404 and an unknown queue -> NotFound, other
  4xx -> RequestRejected). `download_error` does the same for storage, which is not EvalAI.
- `auth_message`: a readable reason for a refused token, saying what to do about it.
- `response_body`, `body_summary`, `retry_after_seconds`, `content_length`: what error messages
  and the retry policy read from an answer.
- `parsed`, `as_int`, `as_datetime`: build a record from an answer's fields, turning a missing or
  mangled field into PermanentError.
- `result_json`: the `result` string of a finished submission's PUT (§2.1).

The dicts `ok_json` returns stay inside the EvalAI client: the client turns them into
records.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from worker.errors import AuthError, NotFound, PermanentError, RequestRejected

NEW_TOKEN_HINT = "get a new one from your EvalAI profile page"
_NOT_A_HOST_UPDATE = "Sorry, you are not authorized to make this request!"


def result_json(split: str, metrics: Mapping[str, Any]) -> str:
    """The `result` string EvalAI's PUT expects (§2.1) for one split. Pure. Raises ValueError
    for an empty split codename, no metrics, an empty label or a value that is not a finite
    int/float (bools are refused although EvalAI would take them)."""
    if not isinstance(split, str) or not split.strip():
        raise ValueError(f"split codename must be a non-empty string, got {split!r}")
    if not metrics:
        raise ValueError("metrics must hold at least one leaderboard label")
    accuracies: dict[str, int | float] = {}
    for label, value in metrics.items():
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"metric labels must be non-empty strings, got {label!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"metric {label!r} must be an int or float, got {value!r}")
        if isinstance(value, numbers.Integral):
            accuracies[label] = int(value)
        elif math.isfinite(float(value)):
            accuracies[label] = float(value)
        else:
            raise ValueError(f"metric {label!r} must be finite, got {value!r}")
    return json.dumps(
        [{"split": split, "show_to_participant": True, "accuracies": accuracies}], allow_nan=False
    )


# ---------------------------------------------------------------------- answers
def ok_json(response: requests.Response, what: str, *, lists: bool = False) -> Any:
    """The JSON object (or, with `lists`, object or list) of a 2xx answer; any other answer
    raises its mapped error."""
    status = response.status_code
    body = response_body(response)
    if 200 <= status < 300:
        if not isinstance(body, dict) and not (lists and isinstance(body, list)):
            raise PermanentError(
                f"{what}: EvalAI answered {status} without a JSON object ({body_summary(body)})",
                status_code=status,
            )
        return body
    error = body.get("error") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    if status in (401, 403) or (status == 400 and error == _NOT_A_HOST_UPDATE):
        raise AuthError(auth_message(status, body, what), status_code=status)
    if status == 404 or (
        status == 400 and isinstance(error, str) and error.startswith("Challenge with queue name")
    ):
        raise NotFound(
            f"{what}: {body_summary(body)} (EvalAI answered {status})", status_code=status
        )
    reason = error or detail or body_summary(body)
    raise RequestRejected(
        f"{what}: EvalAI rejected the request ({status}: {reason})", status_code=status, body=body
    )


def download_error(status: int, what: str) -> PermanentError:
    # Storage is not EvalAI's API: a 403 here is a bucket permission, not our token.
    if status in (404, 410):
        return NotFound(f"{what}: no such file (storage answered {status})", status_code=status)
    return PermanentError(f"{what}: storage answered {status}", status_code=status)


def auth_message(status: int, body: Any, what: str) -> str:
    fields = body if isinstance(body, dict) else {}
    detail, error = fields.get("detail"), fields.get("error")
    if fields.get("code") == "token_not_valid":
        return (
            f"EvalAI rejected the token ({status} token_not_valid): the AUTH_TOKEN is invalid "
            f"or expired; {NEW_TOKEN_HINT}"
        )
    if detail in ("Invalid token", "Token has expired"):
        return (
            f"EvalAI rejected the token ({status} {detail}): the AUTH_TOKEN is invalid or "
            f"expired; {NEW_TOKEN_HINT}"
        )
    if detail == "Authentication credentials were not provided.":
        return f"EvalAI received no credentials ({status}) for {what}: set AUTH_TOKEN"
    if isinstance(error, str) and "not authorized" in error:
        return (
            f"EvalAI refused to {what} ({status} {error!r}): the AUTH_TOKEN's user is not a "
            f"host of this challenge; use a token of a challenge host"
        )
    return f"EvalAI refused to {what} ({status}: {body_summary(body)})"


def response_body(response: requests.Response) -> Any:
    """The parsed JSON body, or its text when it is not JSON (Django's HTML pages)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def body_summary(body: Any) -> str:
    if isinstance(body, dict):
        text = body.get("error") or body.get("detail") or json.dumps(body)
        return str(text)[:300]
    text = str(body).strip()
    if text.lower().startswith(("<!doctype html", "<html")):
        return "an HTML page"
    return text[:300] or "an empty body"


def retry_after_seconds(response: requests.Response) -> float | None:
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:  # absent, or an HTTP date (DRF sends seconds)
        return None
    return value if math.isfinite(value) and value >= 0 else None


def content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


# ---------------------------------------------------------------------- fields
def parsed(what: str, build: Callable[[], Any]) -> Any:
    """What `build` returns; a field it lacks or cannot coerce raises PermanentError."""
    try:
        return build()
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentError(f"{what}: EvalAI's answer lacks or mangles {exc}") from exc


def as_int(value: Any) -> int:
    """EvalAI sends pks as ints or as digit strings ("12"); anything else is an error."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer pk, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(f"expected an integer pk, got {value!r}")


def as_datetime(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (a trailing Z allowed); None for EvalAI's empty values."""
    if value in (None, "", "None"):
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
