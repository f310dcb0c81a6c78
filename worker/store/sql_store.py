"""The scoring database: submissions, their evaluations (per-task and per-split scores) and an
event log of every state change, through SQLAlchemy Core. This module holds `SqlScoreStore` and
its state changes; the tables and records are in `worker.store.schema`, the statuses and leases
in `worker.store.states`, the read-side queries in `worker.store.queries` (which `SqlScoreStore`
inherits) and the SQLite connection set-up in `worker.store.sqlite`.

I/O: connects to the database named by the URL passed to `SqlScoreStore` (a SQLite file, or
PostgreSQL through psycopg). No clock inside: every time is passed in, timezone-aware.

State machine of a submission (every arrow appends an event in the same transaction):

    (new) --upsert_submission--> received --try_claim--> running --record_evaluation--> finished
    running --record_failure(participant, or internal with no attempts left)--> failed
    running --record_failure(internal, attempts left)--> received
    running, lease expired --try_claim--> running (attempts + 1, "reclaimed from <owner>")
    received | running --mark_cancelled--> cancelled
    finished | failed | running with an expired lease --reset_for_rescore--> received

`attempts` counts claims (scoring attempts started), so crashes of the worker that the reaper
recovers count as much as reported internal errors; a rescore sets it back to 0.

Exactly-once rests on compare-and-set: a transaction reads the row, then writes with a single
conditional UPDATE whose WHERE re-checks the state it read (status, lease owner, expiry) and looks
at the rowcount; whoever changed the row first wins, the other sees 0 rows. On PostgreSQL the
UPDATE waits for the row lock and re-evaluates its WHERE; on SQLite every write transaction starts
with BEGIN IMMEDIATE, so it waits (busy timeout) instead of failing with SQLITE_BUSY when another
process committed between its read and its write.

"Holding the lease" means being the `lease_owner` of a `running` row. An expired lease is not
revoked until another worker reclaims it: a slow worker that finishes first may still record its
(correct) result, and once the row is reclaimed its writes raise `LeaseLost` and write nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Row, Table, create_engine, func, make_url, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scoring.results import ScoreCard
from worker.errors import WorkerError
from worker.store.queries import SqlScoreQueries
from worker.store.schema import (
    ERROR_KINDS,
    SOURCES,
    BoardEntry,
    EvaluationRecord,
    Event,
    StoredSubmission,
    SubmissionInfo,
    check_card,
    evaluations,
    events,
    findings_json,
    inbox_keys,
    metadata,
    none_if_nan,
    split_rows,
    split_scores,
    submission_from_row,
    submissions,
    task_rows,
    task_scores,
)
from worker.store.sqlite import sqlite_engine
from worker.store.states import (
    CANCELLED,
    FAILED,
    FINISHED,
    RECEIVED,
    RUNNING,
    Move,
    aware,
    lease_end,
    lease_expired,
    same_expired_lease,
)

__all__ = [
    "BoardEntry",
    "EvaluationRecord",
    "Event",
    "LeaseLost",
    "SqlScoreStore",
    "StoredSubmission",
    "SubmissionInfo",
]

_SCHEMA_LOCK = 7_311_004  # PostgreSQL advisory lock key: concurrent create_schema() calls queue


class LeaseLost(WorkerError):
    """The caller no longer holds the lease of a running submission; nothing was written."""


class SqlScoreStore(SqlScoreQueries):
    """The scoring database on SQLite (`sqlite:///path.db`) or PostgreSQL
    (`postgresql+psycopg://user@host:5432/db`). The state changes are here; the read-side
    queries (`get`, listings, events, evaluations, `board_entries`) are inherited from
    `worker.store.queries.SqlScoreQueries`."""

    def __init__(
        self, url: str, *, busy_timeout_s: float = 30.0, connect_timeout_s: int = 10
    ) -> None:
        parsed = make_url(url)
        self._dialect = parsed.get_backend_name()
        if self._dialect == "sqlite":
            self._engine = sqlite_engine(parsed, busy_timeout_s)
        elif self._dialect == "postgresql":
            args = (
                {} if "connect_timeout" in parsed.query else {"connect_timeout": connect_timeout_s}
            )
            self._engine = create_engine(parsed, connect_args=args, pool_pre_ping=True)
        else:
            raise ValueError(
                f"unsupported database {self._dialect!r} in URL: use sqlite or postgresql"
            )

    def __repr__(self) -> str:
        return f"SqlScoreStore({self._engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self._engine.dispose()

    def create_schema(self) -> None:
        """Create missing tables and indexes (idempotent; safe to call from every worker)."""
        with self._engine.begin() as conn:
            if self._dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            metadata.create_all(conn)

    # -- transactions -----------------------------------------------------------------------

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

    # -- submissions ------------------------------------------------------------------------

    def allocate_inbox_pk(self, path_key: str) -> int:
        """A stable pk for a local inbox file, e.g. "dev/team-a/emb.csv@<sha256>" (idempotent)."""
        with self._writing() as conn:
            conn.execute(
                self._insert(inbox_keys).values(path_key=path_key).on_conflict_do_nothing()
            )
            query = select(inbox_keys.c.pk).where(inbox_keys.c.path_key == path_key)
            return int(conn.execute(query).scalar_one())

    def upsert_submission(self, rec: SubmissionInfo) -> StoredSubmission:
        """Insert as `received` if new; else refresh team, method and flags, never the status."""
        if rec.source not in SOURCES:
            raise ValueError(f"unknown source {rec.source!r}, expected one of {SOURCES}")
        aware(rec.submitted_at, "submitted_at")
        aware(rec.received_at, "received_at")
        meta = dict(
            team_pk=rec.team_pk,
            team_name=rec.team_name,
            method_name=rec.method_name,
            is_public=rec.is_public,
            is_baseline=rec.is_baseline,
        )
        s = submissions.c
        with self._writing() as conn:
            inserted = conn.execute(
                self._insert(submissions)
                .values(
                    source=rec.source,
                    pk=rec.pk,
                    phase=rec.phase,
                    submitted_at=rec.submitted_at,
                    received_at=rec.received_at,
                    status=RECEIVED,
                    attempts=0,
                    reported=False,
                    warnings="[]",
                    **meta,
                )
                .on_conflict_do_nothing(index_elements=["source", "pk"])
                .returning(s.id)
            ).first()
            if inserted is not None:  # no row: it existed (RETURNING, as rowcount is -1 on psycopg)
                self._log(conn, rec.source, rec.pk, rec.received_at, None, RECEIVED, "received")
            else:
                conn.execute(
                    update(submissions).where(s.source == rec.source, s.pk == rec.pk).values(**meta)
                )
            row = conn.execute(
                select(submissions).where(s.source == rec.source, s.pk == rec.pk)
            ).one()
        return submission_from_row(row)

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
        for their leases to expire. Attempts are not incremented (the restart is not the
        submission's fault).
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
                values = dict(lease_owner=None, lease_until=None, attempts=s.attempts - 1)
                return Move(guard, RECEIVED, values, f"abandoned by {owner} (worker restarted)")

            if self._move(source, pk, now, decide):
                released.append((source, pk))
        return released

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

    def record_evaluation(
        self,
        source: str,
        pk: int,
        worker_id: str,
        card: ScoreCard,
        started_at: datetime,
        finished_at: datetime,
    ) -> int:
        """Store a scoring run and mark the submission finished, in one transaction.

        Returns the evaluation id. Raises LeaseLost (writing nothing) if the caller no longer
        holds the lease.
        """
        aware(started_at, "started_at")
        aware(finished_at, "finished_at")
        check_card(card)
        warnings = findings_json(card.warnings)
        mean_q = card.mean_q
        with self._writing() as conn:
            finished = dict(
                status=FINISHED,
                finished_at=finished_at,
                error_kind=None,
                error_message=None,
                mean_q=none_if_nan(mean_q),
                seed=card.seed,
                warnings=warnings,
            )
            row = self._release(conn, self._state(conn, source, pk), worker_id, finished)
            evaluation_id = conn.execute(
                evaluations.insert().values(
                    submission_id=row.id,
                    worker_id=worker_id,
                    seed=card.seed,
                    config_fingerprint=card.config_fingerprint,
                    started_at=started_at,
                    finished_at=finished_at,
                    seconds=float(card.seconds),
                    mean_q=mean_q,
                    k=max((t.k for t in card.tasks), default=0),
                    n_tasks=len(card.tasks),
                    warnings=warnings,
                )
            ).inserted_primary_key[0]
            if card.tasks:
                conn.execute(task_scores.insert(), task_rows(evaluation_id, card.tasks))
            splits = split_rows(evaluation_id, card.tasks)
            if splits:
                conn.execute(split_scores.insert(), splits)
            conn.execute(
                update(submissions)
                .where(submissions.c.id == row.id)
                .values(current_evaluation_id=evaluation_id)
            )
            detail = f"evaluation {evaluation_id}: mean Q {mean_q:.6g}"
            self._log(conn, source, pk, finished_at, RUNNING, FINISHED, detail)
        return int(evaluation_id)

    def record_failure(
        self,
        source: str,
        pk: int,
        worker_id: str,
        kind: Literal["participant", "internal"],
        message: str,
        now: datetime,
        max_internal_attempts: int,
    ) -> str:
        """Record a failed attempt and return the new status: participant -> failed; internal ->
        received (to be retried) while attempts < max_internal_attempts, else failed.

        Raises LeaseLost (writing nothing) if the caller no longer holds the lease.
        """
        if kind not in ERROR_KINDS:
            raise ValueError(f"kind must be one of {ERROR_KINDS}, got {kind!r}")
        if max_internal_attempts < 1:
            raise ValueError(f"max_internal_attempts must be >= 1, got {max_internal_attempts!r}")
        aware(now, "now")
        with self._writing() as conn:
            row = self._state(conn, source, pk)
            attempts = 0 if row is None else row.attempts
            retry = kind == "internal" and attempts < max_internal_attempts
            status = RECEIVED if retry else FAILED
            self._release(
                conn,
                row,
                worker_id,
                dict(
                    status=status,
                    error_kind=kind,
                    error_message=message,
                    finished_at=None if retry else now,
                ),
            )
            if kind == "internal":
                detail = f"internal error, attempt {attempts} of {max_internal_attempts}: {message}"
            else:
                detail = f"participant error: {message}"
            self._log(conn, source, pk, now, RUNNING, status, detail)
        return status

    def mark_reported(self, source: str, pk: int, now: datetime) -> bool:
        """EvalAI has been told the final state. False if not finished/failed or already marked.

        The status does not change; the event (status -> same status, "reported") dates it.
        """
        s = submissions.c

        def decide(row: Row[Any]) -> Move | None:
            if row.status not in (FINISHED, FAILED) or row.reported:
                return None
            guard = (s.status == row.status) & s.reported.is_(False)
            return Move(guard, row.status, dict(reported=True, reported_at=now), "reported")

        return self._move(source, pk, now, decide)

    def mark_cancelled(self, source: str, pk: int, now: datetime, detail: str) -> bool:
        """received/running -> cancelled; a running worker's later writes raise LeaseLost."""
        values = dict(finished_at=now, lease_owner=None, lease_until=None)

        def decide(row: Row[Any]) -> Move | None:
            if row.status not in (RECEIVED, RUNNING):
                return None
            return Move(submissions.c.status == row.status, CANCELLED, values, detail)

        return self._move(source, pk, now, decide)

    def reset_for_rescore(self, source: str, pk: int, now: datetime, reason: str) -> bool:
        """finished/failed (any kind), or running with an expired lease -> received.

        reported False, attempts 0, error and lease cleared. Old evaluations stay (history), and
        `current_evaluation_id`, `mean_q`, `seed` keep pointing at the last one until a new
        evaluation replaces them. False (no change) if received, cancelled or leased.
        """
        values = dict(
            reported=False,
            reported_at=None,
            attempts=0,
            error_kind=None,
            error_message=None,
            started_at=None,
            finished_at=None,
            lease_owner=None,
            lease_until=None,
        )
        detail = f"rescore: {reason}"

        def decide(row: Row[Any]) -> Move | None:
            if row.status in (FINISHED, FAILED):
                return Move(submissions.c.status == row.status, RECEIVED, values, detail)
            if lease_expired(row, now):
                return Move(same_expired_lease(row, now), RECEIVED, values, detail)
            return None

        return self._move(source, pk, now, decide)
