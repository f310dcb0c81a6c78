"""The write side's footing, shared by the store's roles: one write transaction, the backend's
INSERT … ON CONFLICT, the event log, and `_move`, one compare-and-set state change (the rule is
drawn in the package's `sql_store`). `LeaseLost` is raised by the roles that leave `running`.

I/O: writes through the SQLAlchemy engine the store opened; nothing here opens or creates one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from worker.errors import WorkerError
from worker.store.schema import events, submissions
from worker.store.states import RUNNING, Move, aware


class LeaseLost(WorkerError):
    """The caller no longer holds the lease of a running submission; nothing was written."""


class SqlWrites:
    """Base of the store's write roles (`SqlIntake`, `SqlClaims`, `SqlResults`), over the engine
    `SqlScoreStore` opened."""

    _engine: Engine
    _dialect: str

    def _writing(self) -> AbstractContextManager[Connection]:
        return self._engine.begin()

    def _insert(self, table: Table) -> Any:
        """INSERT with ON CONFLICT support (race-safe idempotent inserts) for this backend."""
        return (postgresql if self._dialect == "postgresql" else sqlite).insert(table)

    @staticmethod
    def _log(
        conn: Connection, source: str, pk: int, at: datetime, old: str | None, new: str, detail: str
    ) -> None:
        conn.execute(
            events.insert().values(
                source=source, pk=pk, at=at, from_status=old, to_status=new, detail=detail
            )
        )

    @staticmethod
    def _state(conn: Connection, source: str, pk: int) -> Row[Any] | None:
        s = submissions.c
        query = select(s.id, s.status, s.attempts, s.reported, s.lease_owner, s.lease_until)
        return conn.execute(query.where(s.source == source, s.pk == pk)).first()

    def _move(
        self, source: str, pk: int, now: datetime, decide: Callable[[Row[Any]], Move | None]
    ) -> bool:
        """Compare-and-set: read the state, let `decide` pick a move, apply it if still valid."""
        aware(now, "now")
        with self._writing() as conn:
            row = self._state(conn, source, pk)
            move = None if row is None else decide(row)
            if row is None or move is None:
                return False
            done = conn.execute(
                update(submissions)
                .where(submissions.c.id == row.id, move.guard)
                .values(status=move.status, **move.values)
            )
            if done.rowcount != 1:
                return False  # somebody else changed the row since we read it
            self._log(conn, source, pk, now, row.status, move.status, move.detail)
        return True

    def _release(
        self, conn: Connection, row: Row[Any] | None, worker_id: str, values: dict[str, Any]
    ) -> Row[Any]:
        """Leave `running` if `worker_id` holds the lease (as read in `row`), else LeaseLost."""
        if row is None or row.status != RUNNING or row.lease_owner != worker_id:
            raise LeaseLost(f"{worker_id} does not hold the lease")
        s = submissions.c
        done = conn.execute(
            update(submissions)
            .where(s.id == row.id, s.status == RUNNING, s.lease_owner == worker_id)
            .where(s.attempts == row.attempts)
            .values(lease_owner=None, lease_until=None, reported=False, reported_at=None, **values)
        )
        if done.rowcount != 1:
            raise LeaseLost(f"{worker_id} lost the lease during the update")
        return row
