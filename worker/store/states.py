"""The vocabulary of the scoring database's state machine (drawn in the package's `sql_store`):
the status names, leases, and `Move`, one compare-and-set step. Pure: builds values and SQL
expressions, runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row

from worker.store.schema import STATUSES, submissions

RECEIVED, RUNNING, FINISHED, FAILED, CANCELLED = STATUSES


@dataclass(frozen=True)
class Move:
    """A state change decided on a row read in the transaction; `guard` re-checks, in the
    UPDATE's WHERE, the state the decision was made on (the compare in compare-and-set)."""

    guard: ColumnElement[bool]
    status: str
    values: dict[str, Any]
    detail: str


def lease_expired(row: Row[Any], now: datetime) -> bool:
    return row.status == RUNNING and row.lease_until is not None and row.lease_until <= now


def same_expired_lease(row: Row[Any], now: datetime) -> ColumnElement[bool]:
    """WHERE clause: still running under the same, expired lease (nobody reclaimed or renewed)."""
    s = submissions.c
    return (s.status == RUNNING) & (s.lease_owner == row.lease_owner) & (s.lease_until <= now)


def aware(value: datetime, name: str) -> datetime:
    """`value` itself; ValueError naming it if it is naive (every time stored is UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value


def lease_end(now: datetime, lease_seconds: float) -> datetime:
    """When a lease taken at `now` for `lease_seconds` runs out."""
    if not lease_seconds > 0:
        raise ValueError(f"lease_seconds must be positive, got {lease_seconds!r}")
    return aware(now, "now") + timedelta(seconds=lease_seconds)
