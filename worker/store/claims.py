"""Claims and leases: `SqlClaims`, the store's role that decides which worker scores a submission.
A claim is a compare-and-set to `running` with a lease; leases are renewed while scoring, given
back on transient trouble, and taken back from earlier lives of this worker after a restart.

I/O: writes through the store's engine, one transaction per state change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update

from worker.store.queries import SqlScoreQueries
from worker.store.schema import submissions
from worker.store.states import (
    RECEIVED,
    RUNNING,
    Move,
    lease_end,
    lease_expired,
    same_expired_lease,
)
from worker.store.transactions import SqlWrites


class SqlClaims(SqlWrites, SqlScoreQueries):
    """received -> running (claim), lease renewal, running -> received (give back, orphans)."""

    def try_claim(
        self, source: str, pk: int, worker_id: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Compare-and-set to `running` from `received`, or from `running` with an expired lease
        (attempts + 1 either way).

        False if another worker holds a live lease, the submission is unknown or in a final
        state, or another claim won the race.
        """
        claim = dict(
            attempts=submissions.c.attempts + 1,
            started_at=now,
            finished_at=None,
            lease_owner=worker_id,
            lease_until=lease_end(now, lease_seconds),
        )

        def decide(row: Row[Any]) -> Move | None:
            if row.status == RECEIVED:
                guard = submissions.c.status == RECEIVED
                return Move(guard, RUNNING, claim, f"claimed by {worker_id}")
            if lease_expired(row, now):
                detail = f"lease expired, reclaimed from {row.lease_owner} by {worker_id}"
                return Move(same_expired_lease(row, now), RUNNING, claim, detail)
            return None

        return self._move(source, pk, now, decide)

    def renew_lease(
        self, source: str, pk: int, worker_id: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend the caller's lease to now + lease_seconds; False if it is no longer the owner."""
        until = lease_end(now, lease_seconds)
        s = submissions.c
        with self._writing() as conn:
            renewed = conn.execute(
                update(submissions)
                .where(s.source == source, s.pk == pk, s.status == RUNNING)
                .where(s.lease_owner == worker_id)
                .values(lease_until=until)
            )
        return renewed.rowcount == 1

    def release_claim(self, source: str, pk: int, worker_id: str, now: datetime,
                      detail: str) -> bool:
        """Give a claim back (running -> received) without counting the attempt: for transient
        trouble outside the submission (EvalAI or the network was down), which is retried on a
        later tick and must not use up the submission's internal-error budget."""
        s = submissions.c

        def decide(row: Row[Any]) -> Move | None:
            if row.status != RUNNING or row.lease_owner != worker_id:
                return None
            guard = (s.status == RUNNING) & (s.lease_owner == worker_id)
            values = dict(lease_owner=None, lease_until=None, attempts=s.attempts - 1)
            return Move(guard, RECEIVED, values, detail)

        return self._move(source, pk, now, decide)

    def release_orphans(
        self, owner_prefix: str, current_owner: str, now: datetime
    ) -> list[tuple[str, int]]:
        """Put back to `received` every running submission whose lease belongs to an earlier
        life of this worker (owner starts with `owner_prefix` but is not `current_owner`).

        Only the worker that holds the data directory's lock may call this: the lock proves the
        earlier owner is dead, so its half-done scorings restart at once instead of waiting
        for their leases to expire. The attempt stays counted: a file that kills the worker
        (or gets it killed) must not be retried forever, so the claim that would exceed
        `max_internal_attempts` fails it instead (the pipeline checks at claim time).
        """
        s = submissions.c
        with self._reading() as conn:
            rows = conn.execute(
                select(s.source, s.pk, s.lease_owner).where(
                    s.status == RUNNING,
                    s.lease_owner.startswith(owner_prefix, autoescape=True),
                    s.lease_owner != current_owner,
                )
            ).all()
        released = []
        for source, pk, owner in rows:

            def decide(row: Row[Any], owner: str = owner) -> Move | None:
                if row.status != RUNNING or row.lease_owner != owner:
                    return None
                guard = (s.status == RUNNING) & (s.lease_owner == owner)
                values = dict(lease_owner=None, lease_until=None)
                return Move(guard, RECEIVED, values, f"abandoned by {owner} (worker restarted)")

            if self._move(source, pk, now, decide):
                released.append((source, pk))
        return released
