"""EvalAI remote-evaluation client: the endpoints of EvalAI's worker API, typed.
I/O: HTTPS requests to the EvalAI server (and plain GETs of submission files from storage), all
through `EvalAITransport` (module `transport`: timeouts, bounded jittered retries of transient
failures). Other 4xx are never retried; they map onto the `worker.errors` tree (401/403 ->
AuthError, 404 -> NotFound, 400 -> RequestRejected). Retrying is safe for every call here:
receive/delete are SQS operations, PATCH running and PUT result are idempotent enough (EvalAI
updates leaderboard rows in place).

Reading the answers (JSON bodies, the error each status maps onto, headers, field coercion) is
the pure module `responses`, which hands its dicts back here and nowhere else.

Records out, raw dicts never: `QueueMessage`, `EvalAISubmission`, `EvalAIPhase`, `EvalAIChallenge`.
The auth token never appears in a repr, message or log line; headers are never logged.
Paths and body shapes follow the protocol notes (§2, §10): form-encoded bodies like the
EvalAI-Starters worker, `result` as a JSON *string*, the submission path without trailing slash.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import requests

from worker.errors import DownloadTooLarge, PermanentError, TransientError
from worker.evalai.responses import (
    as_datetime,
    as_int,
    content_length,
    download_error,
    ok_json,
    parsed,
    result_json,
)
from worker.evalai.transport import EvalAITransport, RetryPolicy, short_error
from worker.settings import EvalAIConnection

log = logging.getLogger(__name__)
_BROKEN_TRANSFER = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class QueueMessage:
    submission_pk: int
    phase_pk: int
    challenge_pk: int
    receipt_handle: str


@dataclass(frozen=True)
class EvalAISubmission:
    pk: int
    participant_team_pk: int
    team_name: str
    phase_pk: int
    status: str  # lower case: submitted, running, finished, failed, cancelled, resuming, ...
    input_file: str  # URL; download without credentials
    method_name: str
    is_public: bool
    is_baseline: bool
    submitted_at: datetime | None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    created_by: int | None = None
    is_flagged: bool = False
    ignore_submission: bool = False


@dataclass(frozen=True)
class EvalAIPhase:
    pk: int
    codename: str
    name: str


@dataclass(frozen=True)
class ListedSubmission:
    """One row of the host's list of a phase's submissions (protocol §11): the team and the
    phase come by name there, not by pk."""

    pk: int
    status: str
    submitted_at: datetime | None
    is_public: bool
    team_name: str
    phase_name: str


@dataclass(frozen=True)
class EvalAIChallenge:
    pk: int
    title: str
    remote_evaluation: bool
    is_active: bool


class EvalAIClient:
    """Typed calls to EvalAI for one challenge queue. `sleep` and `clock` are injectable so
    tests never really wait; `session` lets callers share or instrument connection pools."""

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
        self._transport = EvalAITransport(
            connection, timeout=timeout, retry=retry, sleep=sleep, clock=clock, session=session
        )
        self._queue = connection.queue_name
        self._challenge_pk = int(connection.challenge_pk)
        self._phases: dict[int, EvalAIPhase] = {}

    def __repr__(self) -> str:
        return (
            f"EvalAIClient(api_server={self._transport.base!r}, queue_name={self._queue!r}, "
            f"challenge_pk={self._challenge_pk!r})"
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> EvalAIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queue
    def receive_message(self) -> QueueMessage | None:
        """At most one message (None when EvalAI handed out nothing). A message without usable
        pks can never be processed: it is logged, deleted and skipped."""
        what = "receive a queue message"
        data = self._json("GET", f"/api/jobs/challenge/queues/{self._quoted_queue}/", what)
        body, handle = data.get("body"), data.get("receipt_handle")
        if body is None or not handle:
            return None
        try:
            if isinstance(body, str):
                body = json.loads(body)
            return QueueMessage(
                submission_pk=as_int(body["submission_pk"]),
                phase_pk=as_int(body["phase_pk"]),
                challenge_pk=as_int(body["challenge_pk"]),
                receipt_handle=str(handle),
            )
        except (KeyError, TypeError, ValueError):
            log.error("deleting a malformed queue message that no worker can process: %r", body)
            self.delete_message(str(handle))
            return None

    def delete_message(self, receipt_handle: str) -> bool:
        """Acknowledge a message. False when EvalAI answered 500, which is what an invalid or
        expired receipt handle produces; the message then comes back and is acknowledged on
        its next receipt. (A stale handle deletes nothing but still answers 200.)"""
        if not receipt_handle:
            raise ValueError("receipt_handle must be a non-empty string")
        what = "delete a queue message"
        response = self._transport.request(
            "POST",
            self._transport.url(f"/api/jobs/queues/{self._quoted_queue}/"),
            what,
            data={"receipt_handle": receipt_handle},
            final_statuses=frozenset({500}),
        )
        if response.status_code == 500:
            log.warning(
                "EvalAI answered 500 to %s (invalid or expired receipt handle); "
                "the message will be acknowledged when it is received again",
                what,
            )
            return False
        ok_json(response, what)
        return True

    # ------------------------------------------------------------------ reads
    def get_submission(self, submission_pk: int) -> EvalAISubmission:
        what = f"fetch submission {submission_pk}"
        data = self._json("GET", f"/api/jobs/submission/{int(submission_pk)}", what)
        return _submission(data, what)

    def get_phase(self, phase_pk: int) -> EvalAIPhase:
        """The phase (for its codename), cached per pk for the life of the client."""
        pk = int(phase_pk)
        if pk not in self._phases:
            what = f"fetch challenge phase {pk}"
            data = self._json("GET", f"/api/challenges/challenge/phase/{pk}/", what)
            self._phases[pk] = parsed(
                what,
                lambda: EvalAIPhase(
                    pk=as_int(data["id"]), codename=str(data["codename"]), name=str(data["name"])
                ),
            )
        return self._phases[pk]

    # ------------------------------------------------------------------ host listing (§11)
    @property
    def requests_sent(self) -> int:
        """Requests sent to the EvalAI server so far (they count against its rate limit)."""
        return self._transport.requests_sent

    def list_phases(self) -> list[EvalAIPhase]:
        """The challenge's phases (host only)."""
        what = f"list the phases of challenge {self._challenge_pk}"
        data = ok_json(self._transport.request(
            "GET", self._transport.url(f"/api/challenges/{self._challenge_pk}/phases/"), what),
            what, lists=True)
        rows = data.get("results", []) if isinstance(data, dict) else data
        phases = parsed(what, lambda: [EvalAIPhase(pk=as_int(row["id"]),
                                                   codename=str(row["codename"]),
                                                   name=str(row["name"])) for row in rows])
        self._phases.update({phase.pk: phase for phase in phases})
        return phases

    def submission_counts(self, phase_pk: int) -> dict[str, int]:
        """How many submissions of the phase are in each status (only statuses that occur)."""
        what = f"count the submissions of phase {int(phase_pk)} by status"
        data = self._json("GET", f"/api/jobs/phases/{int(phase_pk)}/submission_count_by_status/",
                          what)
        return parsed(what, lambda: {str(row["status"]).lower(): as_int(row["count"])
                                     for row in data["status"]})

    def phase_submissions(self, phase_pk: int, *, page_size: int = 100,
                          ) -> Iterator[ListedSubmission]:
        """Every submission of the phase, newest first, one page (one request) at a time; the
        caller stops when it has seen enough. `next` links are followed on our own server only
        (the token is never sent anywhere else)."""
        path = f"/api/challenges/{self._challenge_pk}/challenge_phase/{int(phase_pk)}/submissions"
        query = {"page_size": str(page_size)}
        while True:
            what = f"list the submissions of phase {int(phase_pk)}"
            data = self._json("GET", f"{path}?{urlencode(query)}", what)
            rows = parsed(what, lambda data=data: [
                ListedSubmission(pk=as_int(row["id"]), status=str(row["status"]).lower(),
                                 submitted_at=as_datetime(row.get("submitted_at")),
                                 is_public=bool(row.get("is_public", False)),
                                 team_name=str(row.get("participant_team", "")),
                                 phase_name=str(row.get("challenge_phase", "")))
                for row in data["results"]])
            yield from rows
            following = data.get("next")
            if not following or not rows:
                return
            query = {key: values[-1] for key, values in parse_qs(urlsplit(following).query).items()}

    def check_token(self) -> EvalAIChallenge:
        """For `doctor`: proves the token works, belongs to a host of the challenge owning
        QUEUE_NAME, and that CHALLENGE_PK matches, without touching any queue message."""
        what = "check the token against the challenge queue"
        data = self._json("GET", f"/api/challenges/challenge/queues/{self._quoted_queue}/", what)
        challenge = parsed(
            what,
            lambda: EvalAIChallenge(
                pk=as_int(data["id"]),
                title=str(data.get("title", "")),
                remote_evaluation=bool(data.get("remote_evaluation", False)),
                is_active=bool(data.get("is_active", False)),
            ),
        )
        if challenge.pk != self._challenge_pk:
            raise PermanentError(
                f"QUEUE_NAME {self._queue!r} belongs to challenge {challenge.pk}, "
                f"but CHALLENGE_PK is {self._challenge_pk}"
            )
        return challenge

    # ------------------------------------------------------------------ status updates
    def mark_running(self, submission_pk: int) -> EvalAISubmission:
        what = f"mark submission {submission_pk} running"
        data = self._json(
            "PATCH",
            f"/api/jobs/challenge/{self._challenge_pk}/update_submission/",
            what,
            data={"submission": int(submission_pk), "submission_status": "running"},
        )
        log.info("submission %d: marked running on EvalAI", int(submission_pk))
        return _submission(data, what)

    def post_finished(
        self,
        submission_pk: int,
        phase_pk: int,
        split: str,
        metrics: Mapping[str, float],
        stdout: str,
        stderr: str,
        metadata: Mapping[str, Any],
    ) -> None:
        """Report success with one split's metrics. Everything is validated before anything is
        sent (ValueError names the bad value); EvalAI's 400 raises RequestRejected, unretried."""
        result = result_json(split, metrics)
        try:
            encoded_metadata = json.dumps(dict(metadata), allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON with finite numbers: {exc}") from exc
        self._json(
            "PUT",
            f"/api/jobs/challenge/{self._challenge_pk}/update_submission/",
            f"report submission {submission_pk} finished",
            data={
                "challenge_phase": int(phase_pk),
                "submission": int(submission_pk),
                "submission_status": "finished",
                "result": result,
                "stdout": stdout,
                "stderr": stderr,
                "metadata": encoded_metadata,
            },
        )
        log.info("submission %d: reported finished to EvalAI", int(submission_pk))

    def post_failed(self, submission_pk: int, phase_pk: int, stderr: str, stdout: str = "") -> None:
        """Report failure; `stderr` is shown to the participant, so keep it participant-safe."""
        self._json(
            "PUT",
            f"/api/jobs/challenge/{self._challenge_pk}/update_submission/",
            f"report submission {submission_pk} failed",
            data={
                "challenge_phase": int(phase_pk),
                "submission": int(submission_pk),
                "submission_status": "failed",
                "stdout": stdout,
                "stderr": stderr,
            },
        )
        log.info("submission %d: reported failed to EvalAI", int(submission_pk))

    # ------------------------------------------------------------------ files
    def download(self, url: str, dest_path: str | os.PathLike[str], max_bytes: int) -> int:
        """Stream the file at `url` (no credentials sent) to `dest_path`; returns its size.
        Over `max_bytes` (by Content-Length or by counting) raises DownloadTooLarge and leaves
        nothing behind. Transient failures restart the download, within the retry policy."""
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be non-negative, got {max_bytes!r}")
        full_url = urljoin(self._transport.base + "/", url)
        if urlsplit(full_url).scheme not in ("http", "https"):
            raise PermanentError(f"the submission file URL is not http(s): {url!r}")
        dest = Path(dest_path)
        partial = dest.with_name(dest.name + ".part")
        what = "download the submission file"

        def attempt() -> int:
            response = self._transport.send(
                "GET", full_url, what, auth=False, stream=True, raw_bytes=True
            )
            with response:
                if response.status_code != 200:
                    raise download_error(response.status_code, what)
                declared = content_length(response)
                if declared is not None and declared > max_bytes:
                    raise DownloadTooLarge(limit=max_bytes, size=declared)
                written = 0
                try:
                    with open(partial, "wb") as sink:
                        for chunk in response.iter_content(chunk_size=1 << 16):
                            written += len(chunk)
                            if written > max_bytes:
                                raise DownloadTooLarge(limit=max_bytes, size=written)
                            sink.write(chunk)
                except _BROKEN_TRANSFER as exc:
                    partial.unlink(missing_ok=True)
                    broke = f"{what}: the transfer broke off ({short_error(exc)})"
                    raise TransientError(broke) from exc
                except BaseException:
                    partial.unlink(missing_ok=True)
                    raise
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            if declared is not None and not encoded and written != declared:
                partial.unlink(missing_ok=True)
                raise TransientError(f"{what}: got {written} of {declared} bytes")
            os.replace(partial, dest)
            return written

        return self._transport.retrying(attempt, what)

    # ------------------------------------------------------------------ plumbing
    @property
    def _quoted_queue(self) -> str:
        return quote(self._queue, safe="")

    def _json(self, method: str, path: str, what: str, *, data: Any = None) -> dict[str, Any]:
        return self._transport.json(method, path, what, data=data)


# ---------------------------------------------------------------------- records
def _submission(data: Mapping[str, Any], what: str) -> EvalAISubmission:
    """The submission record of EvalAI's answer; a missing or mangled field is PermanentError."""
    return parsed(
        what,
        lambda: EvalAISubmission(
            pk=as_int(data["id"]),
            participant_team_pk=as_int(data["participant_team"]),
            team_name=str(data.get("participant_team_name") or ""),
            phase_pk=as_int(data["challenge_phase"]),
            status=str(data["status"]).lower(),
            input_file=str(data["input_file"]),
            method_name=str(data.get("method_name") or ""),
            is_public=bool(data.get("is_public", False)),
            is_baseline=bool(data.get("is_baseline", False)),
            submitted_at=as_datetime(data.get("submitted_at")),
            started_at=as_datetime(data.get("started_at")),
            completed_at=as_datetime(data.get("completed_at")),
            created_by=None if data.get("created_by") is None else as_int(data["created_by"]),
            is_flagged=bool(data.get("is_flagged", False)),
            ignore_submission=bool(data.get("ignore_submission", False)),
        ),
    )
