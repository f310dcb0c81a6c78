"""The read side of the scoring database: `SqlScoreQueries`, the queries `SqlScoreStore` inherits
(submission listings, the event log, evaluation records, leaderboard candidates), and the pure
rules that pick one board entry per team.

I/O: reads through the SQLAlchemy engine of the store it is part of (`sql_store`); nothing here
writes. Every query runs in a read-only transaction of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Row, func, select

from worker.store.schema import (
    BoardEntry,
    EvaluationRecord,
    Event,
    StoredSubmission,
    evaluations,
    events,
    findings_from_json,
    inbox_keys,
    split_scores,
    submission_from_row,
    submissions,
    task_score_from_rows,
    task_scores,
)
from worker.store.sqlite import READ_ONLY
from worker.store.states import FAILED, FINISHED, RUNNING, aware


class SqlScoreQueries:
    """The queries of `SqlScoreStore` (its base class), over the engine the store opened."""

    _engine: Engine

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            yield conn

    def get(self, source: str, pk: int) -> StoredSubmission | None:
        s = submissions.c
        with self._reading() as conn:
            row = conn.execute(select(submissions).where(s.source == source, s.pk == pk)).first()
        return None if row is None else submission_from_row(row)

    def inbox_path_key(self, pk: int) -> str | None:
        """The key `allocate_inbox_pk` gave `pk` ("<phase>/<team>/<file>@<sha256>"), or None."""
        query = select(inbox_keys.c.path_key).where(inbox_keys.c.pk == pk)
        with self._reading() as conn:
            return conn.execute(query).scalar_one_or_none()

    def _submissions(self, *conditions: Any) -> list[StoredSubmission]:
        s = submissions.c
        query = select(submissions).where(*conditions).order_by(s.submitted_at, s.source, s.pk)
        with self._reading() as conn:
            return [submission_from_row(row) for row in conn.execute(query)]

    def unreported(self, now: datetime) -> list[StoredSubmission]:
        """Finished/failed at or before `now` whose final state EvalAI has not been told.

        Pass now minus a grace period to leave fresh results to the worker that recorded them.
        """
        s = submissions.c
        return self._submissions(
            s.status.in_((FINISHED, FAILED)),
            s.reported.is_(False),
            s.finished_at <= aware(now, "now"),
        )

    def expired_leases(self, now: datetime) -> list[StoredSubmission]:
        """Running submissions whose lease ended at or before `now` (a dead worker's)."""
        s = submissions.c
        return self._submissions(s.status == RUNNING, s.lease_until <= aware(now, "now"))

    def list_submissions(
        self, phase: str | None = None, status: str | None = None, source: str | None = None
    ) -> list[StoredSubmission]:
        s = submissions.c
        conditions = [
            column == value
            for column, value in ((s.phase, phase), (s.status, status), (s.source, source))
            if value is not None
        ]
        return self._submissions(*conditions)

    def status_counts(self) -> dict[str, dict[str, int]]:
        """{phase: {status: count}} over all submissions."""
        s = submissions.c
        query = select(s.phase, s.status, func.count()).group_by(s.phase, s.status)
        counts: dict[str, dict[str, int]] = {}
        with self._reading() as conn:
            for phase, status, n in conn.execute(query):
                counts.setdefault(phase, {})[status] = int(n)
        return counts

    def events(self, source: str, pk: int) -> list[Event]:
        e = events.c
        query = select(events).where(e.source == source, e.pk == pk).order_by(e.id)
        with self._reading() as conn:
            return [Event(**row._mapping) for row in conn.execute(query)]

    def evaluation_ids(self, source: str, pk: int) -> list[int]:
        """Every stored evaluation of a submission, oldest first (the rescore history)."""
        s, ev = submissions.c, evaluations.c
        query = (
            select(ev.id)
            .join_from(evaluations, submissions, ev.submission_id == s.id)
            .where(s.source == source, s.pk == pk)
            .order_by(ev.id)
        )
        with self._reading() as conn:
            return [int(i) for i in conn.execute(query).scalars()]

    def evaluation(self, evaluation_id: int) -> EvaluationRecord:
        """One evaluation with its task and split scores; KeyError if there is none."""
        s, ev, ts, ss = submissions.c, evaluations.c, task_scores.c, split_scores.c
        with self._reading() as conn:
            head = conn.execute(
                select(evaluations, s.source, s.pk)
                .join_from(evaluations, submissions, ev.submission_id == s.id)
                .where(ev.id == evaluation_id)
            ).first()
            if head is None:
                raise KeyError(f"no evaluation with id {evaluation_id!r}")
            tasks = conn.execute(
                select(task_scores).where(ts.evaluation_id == evaluation_id).order_by(ts.position)
            ).all()
            splits = conn.execute(
                select(ss.task, ss.score, ss.best_epoch)
                .where(ss.evaluation_id == evaluation_id)
                .order_by(ss.task, ss.split_index)
            ).all()
        per_task: dict[str, list[Row[Any]]] = {}
        for split in splits:
            per_task.setdefault(split.task, []).append(split)
        return EvaluationRecord(
            id=head.id,
            source=head.source,
            pk=head.pk,
            worker_id=head.worker_id,
            seed=head.seed,
            config_fingerprint=head.config_fingerprint,
            started_at=head.started_at,
            finished_at=head.finished_at,
            seconds=head.seconds,
            mean_q=head.mean_q,
            k=head.k,
            warnings=findings_from_json(head.warnings),
            tasks=tuple(task_score_from_rows(t, per_task.get(t.task, [])) for t in tasks),
        )

    def board_entries(
        self, phase: str, policy: Literal["latest", "best"], include_private: bool = False
    ) -> list[BoardEntry]:
        """Leaderboard candidates of a phase, best mean Q first (ranking is scoring.ranking's).

        Per team (team_pk, else team_name) the latest finished submission (by submitted_at, then
        pk) or the best by mean Q (ties: the earlier one); only public ones unless
        include_private. Every finished public baseline is its own entry: as on EvalAI's public
        leaderboard, a private submission never counts, a baseline's neither.
        """
        if policy not in ("latest", "best"):
            raise ValueError(f"policy must be 'latest' or 'best', got {policy!r}")
        s = submissions.c
        finished = self._submissions(
            s.phase == phase, s.status == FINISHED, s.current_evaluation_id.is_not(None)
        )
        chosen = board_picks(finished, policy, include_private)
        task_q = self._task_q([sub.current_evaluation_id for sub, _, _ in chosen])
        entries = [
            BoardEntry(
                submission=sub,
                team_key=sub.team_key,
                task_q=task_q.get(sub.current_evaluation_id, {}),
                mean_q=math.nan if sub.mean_q is None else sub.mean_q,
                n_submissions=n,
                last_submitted_at=last,
            )
            for sub, n, last in chosen
        ]
        return sorted(entries, key=lambda e: (-_q_key(e.mean_q), e.submission.submitted_at))

    def _task_q(self, evaluation_ids: list[int | None]) -> dict[int, dict[str, float]]:
        ts = task_scores.c
        ids = [i for i in evaluation_ids if i is not None]
        if not ids:
            return {}
        query = (
            select(ts.evaluation_id, ts.task, ts.q)
            .where(ts.evaluation_id.in_(ids))
            .order_by(ts.evaluation_id, ts.position)
        )
        out: dict[int, dict[str, float]] = {}
        with self._reading() as conn:
            for evaluation_id, task, q in conn.execute(query):
                out.setdefault(evaluation_id, {})[task] = q
        return out


def board_picks(
    finished: list[StoredSubmission], policy: str, include_private: bool
) -> list[tuple[StoredSubmission, int, datetime]]:
    """(submission, team's finished count, team's last submitted_at) per board entry. Pure."""
    picks = [
        (sub, 1, sub.submitted_at)
        for sub in finished
        if sub.is_baseline and (sub.is_public or include_private)
    ]
    teams: dict[str, list[StoredSubmission]] = {}
    for sub in finished:
        if not sub.is_baseline:
            teams.setdefault(sub.team_key, []).append(sub)
    for subs in teams.values():
        shown = [sub for sub in subs if sub.is_public or include_private]
        if not shown:
            continue
        if policy == "latest":
            pick = max(shown, key=lambda sub: (sub.submitted_at, sub.pk))
        else:  # best mean Q; on ties the earlier submission keeps its place
            pick = max(shown, key=lambda sub: (_q_key(sub.mean_q), _earlier(sub)))
        picks.append((pick, len(subs), max(sub.submitted_at for sub in subs)))
    return picks


def _q_key(q: float | None) -> float:
    """Sort key for "higher Q is better" with NaN/None lowest."""
    return -math.inf if q is None or math.isnan(q) else q


def _earlier(sub: StoredSubmission) -> tuple[float, int]:
    return (-sub.submitted_at.timestamp(), -sub.pk)

