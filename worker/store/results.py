"""Results and final states: `SqlResults`, the store's role that records a scoring run (per-task
and per-split scores) or a failure as the lease holder, marks what EvalAI has been told, and
cancels or resets a submission for a rescore.

I/O: writes through the store's engine; an evaluation with all its scores is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Row, update

from scoring.results import ScoreCard
from worker.store.schema import (
    ERROR_KINDS,
    check_card,
    evaluations,
    findings_json,
    none_if_nan,
    split_rows,
    split_scores,
    submissions,
    task_rows,
    task_scores,
)
from worker.store.states import (
    CANCELLED,
    FAILED,
    FINISHED,
    RECEIVED,
    RUNNING,
    Move,
    aware,
    lease_expired,
    same_expired_lease,
)
from worker.store.transactions import SqlWrites


class SqlResults(SqlWrites):
    """running -> finished | failed | received (retry); reported; cancelled; rescore."""

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
