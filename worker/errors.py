"""The worker's exception tree. Pure.

    WorkerError                    base of everything the worker raises on purpose
    ├── SchemaError                the database's schema does not fit this code; nothing written
    │   ├── SchemaNewerThanCode    migrated by a newer release
    │   ├── SchemaUnrecognised     our tables, matching no known revision
    │   └── MigrationRequired      PostgreSQL needs `python -m worker migrate --yes`
    ├── TransientError             retrying later may succeed: connection errors, timeouts,
    │                              HTTP 5xx, HTTP 429 (``retry_after`` = the server's Retry-After)
    └── PermanentError             retrying the same call cannot succeed
        ├── AuthError              401/403: the token is invalid/expired, or its user is not a
        │                          host of the challenge
        ├── RequestRejected        400 (and other 4xx): the server refused the payload;
        │                          ``body`` holds what it said
        ├── NotFound               404: no such submission, phase, queue or file
        ├── DownloadTooLarge       the submission file is over the size cap (participant-facing)
        └── SubmissionFileGone     the inbox file was removed, changed or replaced by a link
                                   before it could be read (participant-facing)

Transient errors leave the queue message alone so EvalAI hands it out again; permanent ones
are reported (or fail the submission) and never retried blindly. Pipeline-level errors
(participant errors, internal errors) are added next to these by the pipeline layer.

No message built here or by the raisers ever contains the auth token.
"""

from __future__ import annotations

from typing import Any


class WorkerError(Exception):
    """Base class of every error the worker raises on purpose."""


class SchemaError(WorkerError):
    """The database's schema does not fit this code and was left untouched."""


class SchemaNewerThanCode(SchemaError):
    """The database was migrated by a newer release; this code must not write to it."""


class SchemaUnrecognised(SchemaError):
    """Tables of ours that match no known revision (or several version rows)."""


class MigrationRequired(SchemaError):
    """A PostgreSQL database needs migrating; the organiser runs `migrate --yes` after a dump."""


class TransientError(WorkerError):
    """A failure that may go away on its own: retry with backoff, leave the message queued.

    ``status_code`` is the HTTP status when there was a response (None for connection errors
    and timeouts); ``retry_after`` is the server's Retry-After in seconds when it sent one.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


class PermanentError(WorkerError):
    """A failure that the same call will hit again: do not retry it."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthError(PermanentError):
    """EvalAI refused the credentials (401/403), or the token's user is not a challenge host."""


class RequestRejected(PermanentError):
    """EvalAI refused the request itself (400 and other 4xx); ``body`` is its answer
    (a dict for JSON bodies, else the text)."""

    def __init__(self, message: str, *, status_code: int, body: Any) -> None:
        super().__init__(message, status_code=status_code)
        self.body = body


class NotFound(PermanentError):
    """The submission, phase, queue or file does not exist (404)."""


class DownloadTooLarge(PermanentError):
    """The submission file is larger than the worker accepts. The message is safe to show to
    the participant; ``limit`` and ``size`` are in bytes (``size`` may be a lower bound when
    the server sent no Content-Length)."""

    def __init__(self, *, limit: int, size: int) -> None:
        super().__init__(
            f"The submission file is larger than the {_human_bytes(limit)} limit "
            f"(at least {_human_bytes(size)})."
        )
        self.limit = limit
        self.size = size


def _human_bytes(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


class SubmissionFileGone(PermanentError):
    """The submission's file is no longer what was received (an inbox file deleted, changed or
    replaced by a symbolic link before it was read). The message is safe to show to the
    participant."""
