"""A manual clock and an in-memory, SQS-like message queue for the EvalAI double. Pure: no I/O,
no real time (everything is driven by `FakeClock`, which moves only when a test advances it).

The queue reproduces the SQS behaviour EvalAI exposes to remote workers (protocol §2 W1/W2, §3):
at most one message per receive; a received message is invisible for the visibility timeout
(per message, default 30 s) and then handed out again with a NEW receipt handle; deleting with
an older handle of the same message is a silent no-op; deleting with a handle that was never
issued raises `InvalidReceiptHandle` (EvalAI turns that into an HTML 500); messages expire
after the retention period; FIFO queues hold back later messages of a group while one of the
group is in flight. Not thread-safe: the double serialises access with its own lock.
"""

from __future__ import annotations

import copy
import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# 2026-01-01T00:00:00Z: a fixed start so timestamps in failures are reproducible.
DEFAULT_EPOCH = 1767225600.0
DEFAULT_VISIBILITY_TIMEOUT = 30.0
DEFAULT_RETENTION = 345600.0  # EvalAI's Challenge.sqs_retention_period default: 4 days


class FakeClock:
    """Seconds since the Unix epoch that move only through `advance`."""

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards (advance by {seconds!r})")
        self._now += float(seconds)

    def isoformat(self, when: float | None = None) -> str:
        """EvalAI's datetime format: ISO-8601 UTC with microseconds and a Z."""
        moment = datetime.fromtimestamp(self._now if when is None else when, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class InvalidReceiptHandle(Exception):
    """SQS's ReceiptHandleIsInvalid: the handle was never issued by this queue."""


@dataclass
class _Message:
    message_id: str
    body: dict[str, Any]
    sent_at: float
    visible_at: float
    group_id: str | None
    current_handle: str | None = None
    receive_count: int = 0


@dataclass(frozen=True)
class MessageView:
    """A read-only look at one queued message, for assertions."""

    message_id: str
    body: dict[str, Any]
    in_flight: bool
    receive_count: int
    sent_at: float
    visible_at: float
    group_id: str | None


class SqsLikeQueue:
    """One challenge's queue. Bodies go in and come out as deep copies."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        retention_seconds: float = DEFAULT_RETENTION,
        fifo: bool = False,
    ) -> None:
        self._clock = clock
        self.visibility_timeout = float(visibility_timeout)
        self.retention_seconds = float(retention_seconds)
        self.fifo = fifo
        self._messages: list[_Message] = []
        self._issued: dict[str, str] = {}  # every receipt handle ever issued -> message id
        self._ids = itertools.count(1)

    def send(self, body: dict[str, Any], *, group_id: str | None = None) -> str:
        now = self._clock.now()
        message_id = f"msg-{next(self._ids)}"
        self._messages.append(
            _Message(message_id, copy.deepcopy(body), now, now, group_id if self.fifo else None)
        )
        return message_id

    def receive(self) -> tuple[dict[str, Any], str] | None:
        """Hand out at most one visible message with a fresh receipt handle, or None."""
        self._expire()
        now = self._clock.now()
        busy_groups = {
            m.group_id for m in self._messages if m.group_id is not None and m.visible_at > now
        }
        for message in self._messages:
            if message.visible_at > now:
                continue
            if message.group_id is not None and message.group_id in busy_groups:
                continue  # FIFO: an earlier message of this group is in flight
            handle = "AQEB" + secrets.token_urlsafe(36)
            self._issued[handle] = message.message_id
            message.current_handle = handle
            message.receive_count += 1
            message.visible_at = now + self.visibility_timeout
            return copy.deepcopy(message.body), handle
        return None

    def delete(self, receipt_handle: str) -> bool:
        """True when a message was deleted. A stale handle (an earlier receive of a message,
        or a message already deleted) deletes nothing and returns False, like SQS."""
        if receipt_handle not in self._issued:
            raise InvalidReceiptHandle(receipt_handle)
        for index, message in enumerate(self._messages):
            if message.current_handle == receipt_handle:
                del self._messages[index]
                return True
        return False

    def messages(self) -> list[MessageView]:
        self._expire()
        now = self._clock.now()
        return [
            MessageView(
                m.message_id,
                copy.deepcopy(m.body),
                m.visible_at > now,
                m.receive_count,
                m.sent_at,
                m.visible_at,
                m.group_id,
            )
            for m in self._messages
        ]

    def drop_where(self, matches: Any) -> int:
        """Remove the messages whose body `matches` (a test's lost hand-off); how many."""
        before = len(self._messages)
        self._messages = [m for m in self._messages if not matches(m.body)]
        return before - len(self._messages)

    def purge(self) -> None:
        self._messages.clear()

    def _expire(self) -> None:
        cutoff = self._clock.now() - self.retention_seconds
        self._messages = [m for m in self._messages if m.sent_at > cutoff]
