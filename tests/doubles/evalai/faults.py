"""Programmable faults for the EvalAI double: scripted bad responses, seeded random 5xx, and
DRF's per-user 60/minute throttle. Pure: decides what should go wrong; the HTTP layer acts it out.

Faults are matched before routing (they model an overloaded server or its edge), in the order
they were injected; each one answers its next `times` matching requests. Control endpoints
(`/__test__/...`) are never faulted.

Kinds:
- ``status``: answer `status` with `body` (JSON) or, when `body` is None, an HTML error page
  (503 = overloaded, 500 = Django's HTML 500, 400 with a body = a rejection, 200 with a body =
  any canned answer such as an empty queue receive).
- ``rate_limit``: 429 with ``Retry-After: <retry_after>`` and DRF's throttle body.
- ``slow``: wait `delay` seconds (really, on the server thread), then handle the request
  normally; a client with a shorter read timeout gives up while the server still acts on it.
- ``drop``: read the request, then close the connection without answering.
- ``redirect``: 301 to `location` (a path on the double or an absolute URL).
"""

from __future__ import annotations

import collections
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAULT_KINDS = ("status", "rate_limit", "slow", "drop", "redirect")


@dataclass
class Fault:
    kind: str
    times: int = 1
    status: int = 503
    body: Any = None
    retry_after: int = 60
    delay: float = 0.0
    location: str = ""
    method: str | None = None
    path: str | None = None  # prefix of the request path (query string excluded)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times < 1:
            raise ValueError(f"times must be at least 1, got {self.times!r}")
        if self.kind == "redirect" and not self.location:
            raise ValueError("a redirect fault needs a location")
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class RandomFailures:
    """Answer a matching request with a random status from `statuses` with `probability`."""

    probability: float
    seed: int
    statuses: tuple[int, ...] = (500, 502, 503, 504)
    method: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability!r}")
        self._rng = random.Random(self.seed)

    def draw(self, method: str, path: str) -> int | None:
        if self.method is not None and self.method.upper() != method:
            return None
        if self.path is not None and not path.startswith(self.path):
            return None
        if self._rng.random() < self.probability:
            return self._rng.choice(self.statuses)
        return None


class FaultPlan:
    """The faults in force. Not thread-safe: the double calls it under its lock."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._random: RandomFailures | None = None

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def set_random(self, failures: RandomFailures | None) -> None:
        self._random = failures

    def clear(self) -> None:
        self._faults.clear()
        self._random = None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request, if any (consumes one of its `times`)."""
        if path.startswith("/__test__/"):
            return None
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        if self._random is not None:
            status = self._random.draw(method, path)
            if status is not None:
                return Fault("status", status=status)
        return None


class UserRateThrottle:
    """DRF 3.10's UserRateThrottle on a fake clock: a sliding window of `per_minute` requests per
    user, shared by every throttled view. `check` returns None when allowed, else the
    Retry-After in whole seconds (DRF rounds its wait up)."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute!r}")
        self.per_minute = per_minute
        self._clock = clock
        self._history: dict[str, collections.deque[float]] = {}

    def check(self, user_key: str) -> int | None:
        now = self._clock()
        history = self._history.setdefault(user_key, collections.deque())
        while history and history[0] <= now - 60.0:
            history.popleft()
        if len(history) >= self.per_minute:
            # DRF: remaining = duration - (now - oldest in window); available = 1 when full.
            return max(1, math.ceil(60.0 - (now - history[0])))
        history.append(now)
        return None


def throttled_body(wait: int) -> dict[str, str]:
    unit = "second" if wait == 1 else "seconds"
    return {"detail": f"Request was throttled. Expected available in {wait} {unit}."}
