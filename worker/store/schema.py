"""The scoring database's tables (SQLAlchemy Core), the column types that make SQLite and
PostgreSQL behave alike, and the frozen records rows map to and from. Pure: nothing here
connects; `worker.store.sql_store` does the I/O.

Portability rules the types enforce:
- `UtcDateTime`: callers pass timezone-aware datetimes; they are stored as UTC (naive UTC text on
  SQLite, whose fixed-width format keeps `<`/`>` comparisons correct; `timestamptz` on PostgreSQL)
  and always read back as aware UTC datetimes.
- `NanDouble`: a NaN score is stored as NULL (SQLite cannot store NaN) and read back as NaN.
- JSON is TEXT: warnings as [{"code", "message"}] (the shape of scoring.reports), task reports
  as {name: value}.

Submissions are identified by (source, pk); `submissions.id` is a surrogate used by the child
tables. `submissions.current_evaluation_id` has no foreign key on purpose: it would make the two
tables reference each other, which SQLite cannot create or drop cleanly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from scoring.results import Finding, ScoreCard, TaskScore

STATUSES = ("received", "running", "finished", "failed", "cancelled")
ERROR_KINDS = ("participant", "internal")
# Checked by the store, not by a CHECK constraint, so that adding a source needs no migration.
SOURCES = ("evalai", "inbox")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class NanDouble(TypeDecorator[float]):
    """A double where NaN is stored as NULL and NULL reads back as NaN."""

    impl = Double
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> float | None:
        if value is None:
            return None
        value = float(value)
        return None if math.isnan(value) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> float:
        return math.nan if value is None else float(value)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{column}_allowed")


metadata = MetaData()

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("pk", BigInteger, nullable=False),
    Column("phase", String(200), nullable=False),
    Column("team_pk", BigInteger, nullable=True),
    Column("team_name", String(500), nullable=False),
    Column("method_name", String(500), nullable=False),
    Column("is_public", Boolean, nullable=False),
    Column("is_baseline", Boolean, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error_kind", String(16), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("reported", Boolean, nullable=False, default=False),
    Column("reported_at", UtcDateTime, nullable=True),
    Column("current_evaluation_id", Integer, nullable=True),
    Column("seed", BigInteger, nullable=True),
    # Plain Double: NULL means "no evaluation yet" here; the store maps NULL to NaN only when an
    # evaluation exists (a NaN mean Q).
    Column("mean_q", Double, nullable=True),
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("warnings", Text, nullable=False, default="[]"),
    UniqueConstraint("source", "pk", name="uq_submissions_source_pk"),
    _one_of("status", STATUSES),
    CheckConstraint(
        "error_kind IS NULL OR error_kind IN ('participant', 'internal')",
        name="ck_error_kind_allowed",
    ),
)
# unreported(), expired_leases(), list/board by phase and status.
Index("ix_submissions_status_reported", submissions.c.status, submissions.c.reported)
Index("ix_submissions_status_lease", submissions.c.status, submissions.c.lease_until)
Index("ix_submissions_phase_status", submissions.c.phase, submissions.c.status)

inbox_keys = Table(
    "inbox_keys",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("path_key", String(1000), nullable=False, unique=True),
    sqlite_autoincrement=True,  # never hand out a pk twice, even after deletions
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False, index=True),
    Column("worker_id", String(200), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("config_fingerprint", String(200), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("seconds", Double, nullable=False),
    Column("mean_q", NanDouble, nullable=True),
    Column("k", Integer, nullable=False),  # splits per task (the largest, if tasks differ)
    Column("n_tasks", Integer, nullable=False),
    Column("warnings", Text, nullable=False),
    sqlite_autoincrement=True,
)

task_scores = Table(
    "task_scores",
    metadata,
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
    Column("task", String(200), nullable=False),
    Column("position", Integer, nullable=False),  # order of the task in the ScoreCard
    Column("kind", String(16), nullable=False),
    Column("metric", String(16), nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("q", NanDouble, nullable=True),
    Column("mean_score", NanDouble, nullable=True),
    Column("std_score", NanDouble, nullable=True),
    Column("failed_splits", Integer, nullable=False),
    Column("seconds", Double, nullable=False),
    Column("report", Text, nullable=False),
    PrimaryKeyConstraint("evaluation_id", "task", name="pk_task_scores"),
)

split_scores = Table(
    "split_scores",
    metadata,
    Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
    Column("task", String(200), nullable=False),
    Column("split_index", Integer, nullable=False),
    Column("score", NanDouble, nullable=True),
    Column("best_epoch", Integer, nullable=True),
    PrimaryKeyConstraint("evaluation_id", "task", "split_index", name="pk_split_scores"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("pk", BigInteger, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_events_submission", "source", "pk", "id"),
    sqlite_autoincrement=True,
)

# Organiser alerts that were sent and not yet resolved (see worker.alerts); a resolved alert's
# row is deleted, so a new occurrence of the same problem alerts again.
alerts = Table(
    "alerts",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("summary", Text, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("last_sent_at", UtcDateTime, nullable=False),
    Column("sent_count", Integer, nullable=False),
)

# The last time each periodic job of the service succeeded ("poll", "publish", "reconcile"),
# for `python -m worker status`; one row per job, overwritten.
service_marks = Table(
    "service_marks",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False),
)


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmissionInfo:
    """What a source tells us about a submission (the store adds the state)."""

    source: str  # "evalai" | "inbox"
    pk: int
    phase: str  # phase codename
    team_name: str
    method_name: str
    is_public: bool
    is_baseline: bool
    submitted_at: datetime
    received_at: datetime
    team_pk: int | None = None


@dataclass(frozen=True)
class StoredSubmission:
    """One row of `submissions`. `mean_q` is None before any evaluation, NaN if it was NaN."""

    id: int
    source: str
    pk: int
    phase: str
    team_pk: int | None
    team_name: str
    method_name: str
    is_public: bool
    is_baseline: bool
    submitted_at: datetime
    received_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    attempts: int
    error_kind: str | None
    error_message: str | None
    reported: bool
    reported_at: datetime | None
    current_evaluation_id: int | None
    seed: int | None
    mean_q: float | None
    lease_owner: str | None
    lease_until: datetime | None
    warnings: tuple[Finding, ...]

    @property
    def team_key(self) -> str:
        """Who the leaderboard groups by: the EvalAI team pk if known, else the team name."""
        return f"team:{self.team_pk}" if self.team_pk is not None else f"name:{self.team_name}"


@dataclass(frozen=True)
class Event:
    id: int
    source: str
    pk: int
    at: datetime
    from_status: str | None
    to_status: str
    detail: str


@dataclass(frozen=True)
class EvaluationRecord:
    """One stored scoring run; `tasks` hold the split scores in split order (NaN for NULL)."""

    id: int
    source: str
    pk: int
    worker_id: str
    seed: int
    config_fingerprint: str
    started_at: datetime
    finished_at: datetime
    seconds: float
    mean_q: float
    k: int
    warnings: tuple[Finding, ...]
    tasks: tuple[TaskScore, ...]

    def score_card(self) -> ScoreCard:
        return ScoreCard(
            seed=self.seed,
            tasks=self.tasks,
            warnings=self.warnings,
            config_fingerprint=self.config_fingerprint,
            seconds=self.seconds,
        )


@dataclass(frozen=True)
class BoardEntry:
    """A leaderboard candidate: one submission with its current evaluation's Q per task."""

    submission: StoredSubmission
    team_key: str
    task_q: dict[str, float]  # task -> Q, in ScoreCard order
    mean_q: float
    n_submissions: int  # finished submissions of the team in the phase (1 for a baseline)
    last_submitted_at: datetime  # latest submitted_at among those


# -- rows <-> records ---------------------------------------------------------------------------


def none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def submission_from_row(row: Row[Any]) -> StoredSubmission:
    values = dict(row._mapping)
    values["warnings"] = findings_from_json(values["warnings"])
    if values["mean_q"] is None and values["current_evaluation_id"] is not None:
        values["mean_q"] = math.nan
    return StoredSubmission(**values)


def findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps([{"code": f.code, "message": f.message} for f in findings])


def findings_from_json(text: str) -> tuple[Finding, ...]:
    return tuple(Finding(code=item["code"], message=item["message"]) for item in json.loads(text))


def check_card(card: ScoreCard) -> None:
    names = [t.task for t in card.tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate task names in ScoreCard: {names}")
    for t in card.tasks:
        if t.best_epochs and len(t.best_epochs) != t.k:
            raise ValueError(
                f"task {t.task!r}: {len(t.best_epochs)} best_epochs for {t.k} split scores"
            )


def task_rows(evaluation_id: int, tasks: Sequence[TaskScore]) -> list[dict[str, Any]]:
    return [
        dict(
            evaluation_id=evaluation_id,
            task=t.task,
            position=i,
            kind=t.kind,
            metric=t.metric,
            n_rows=int(t.n_rows),
            q=float(t.q),
            mean_score=float(t.mean_score),
            std_score=float(t.std_score),
            failed_splits=int(t.failed_splits),
            seconds=float(t.seconds),
            report=json.dumps({str(k): float(v) for k, v in t.report.items()}),
        )
        for i, t in enumerate(tasks)
    ]


def split_rows(evaluation_id: int, tasks: Sequence[TaskScore]) -> list[dict[str, Any]]:
    return [
        dict(
            evaluation_id=evaluation_id,
            task=t.task,
            split_index=i,
            score=float(score),
            best_epoch=int(t.best_epochs[i]) if t.best_epochs else None,
        )
        for t in tasks
        for i, score in enumerate(t.split_scores)
    ]


def task_score_from_rows(row: Row[Any], splits: Sequence[Row[Any]]) -> TaskScore:
    epochs = tuple(split.best_epoch for split in splits)
    return TaskScore(
        task=row.task,
        kind=row.kind,
        metric=row.metric,
        n_rows=row.n_rows,
        q=row.q,
        mean_score=row.mean_score,
        std_score=row.std_score,
        split_scores=tuple(split.score for split in splits),
        failed_splits=row.failed_splits,
        best_epochs=() if any(e is None for e in epochs) else epochs,
        report=json.loads(row.report),
        seconds=row.seconds,
    )
