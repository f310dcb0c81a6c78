"""The scoring database's schema exactly as the release at commit b34d137 created it (before
schema versioning), frozen. Pure: builds a `MetaData`, connects to nothing.

Two users: revision 0001 creates these tables on an empty database, and an unversioned database
is recognised as that release's only if its tables, columns and indexes match these. Never edit
this file to follow a schema change: a change is a new revision (docs/migrations.md).

The column types are the plain types the release's `UtcDateTime` (DateTime with time zone) and
`NanDouble` (Double) rendered as, so the DDL is identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

BASELINE_REVISION = "0001"
TABLES = ("submissions", "inbox_keys", "evaluations", "task_scores", "split_scores", "events")


def _utc() -> DateTime:
    return DateTime(timezone=True)


def baseline_metadata() -> MetaData:
    """A fresh `MetaData` holding the six tables of the b34d137 release."""
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
        Column("submitted_at", _utc(), nullable=False),
        Column("received_at", _utc(), nullable=False),
        Column("started_at", _utc(), nullable=True),
        Column("finished_at", _utc(), nullable=True),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("error_kind", String(16), nullable=True),
        Column("error_message", Text, nullable=True),
        Column("reported", Boolean, nullable=False),
        Column("reported_at", _utc(), nullable=True),
        Column("current_evaluation_id", Integer, nullable=True),
        Column("seed", BigInteger, nullable=True),
        Column("mean_q", Double, nullable=True),
        Column("lease_owner", String(200), nullable=True),
        Column("lease_until", _utc(), nullable=True),
        Column("warnings", Text, nullable=False),
        UniqueConstraint("source", "pk", name="uq_submissions_source_pk"),
        CheckConstraint(
            "status IN ('received', 'running', 'finished', 'failed', 'cancelled')",
            name="ck_status_allowed",
        ),
        CheckConstraint(
            "error_kind IS NULL OR error_kind IN ('participant', 'internal')",
            name="ck_error_kind_allowed",
        ),
    )
    Index("ix_submissions_status_reported", submissions.c.status, submissions.c.reported)
    Index("ix_submissions_status_lease", submissions.c.status, submissions.c.lease_until)
    Index("ix_submissions_phase_status", submissions.c.phase, submissions.c.status)
    Table(
        "inbox_keys",
        metadata,
        Column("pk", Integer, primary_key=True, autoincrement=True),
        Column("path_key", String(1000), nullable=False, unique=True),
        sqlite_autoincrement=True,
    )
    Table(
        "evaluations",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False,
               index=True),
        Column("worker_id", String(200), nullable=False),
        Column("seed", BigInteger, nullable=False),
        Column("config_fingerprint", String(200), nullable=False),
        Column("started_at", _utc(), nullable=False),
        Column("finished_at", _utc(), nullable=False),
        Column("seconds", Double, nullable=False),
        Column("mean_q", Double, nullable=True),
        Column("k", Integer, nullable=False),
        Column("n_tasks", Integer, nullable=False),
        Column("warnings", Text, nullable=False),
        sqlite_autoincrement=True,
    )
    Table(
        "task_scores",
        metadata,
        Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
        Column("task", String(200), nullable=False),
        Column("position", Integer, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("metric", String(16), nullable=False),
        Column("n_rows", Integer, nullable=False),
        Column("q", Double, nullable=True),
        Column("mean_score", Double, nullable=True),
        Column("std_score", Double, nullable=True),
        Column("failed_splits", Integer, nullable=False),
        Column("seconds", Double, nullable=False),
        Column("report", Text, nullable=False),
        PrimaryKeyConstraint("evaluation_id", "task", name="pk_task_scores"),
    )
    Table(
        "split_scores",
        metadata,
        Column("evaluation_id", Integer, ForeignKey("evaluations.id"), nullable=False),
        Column("task", String(200), nullable=False),
        Column("split_index", Integer, nullable=False),
        Column("score", Double, nullable=True),
        Column("best_epoch", Integer, nullable=True),
        PrimaryKeyConstraint("evaluation_id", "task", "split_index", name="pk_split_scores"),
    )
    Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("source", String(16), nullable=False),
        Column("pk", BigInteger, nullable=False),
        Column("at", _utc(), nullable=False),
        Column("from_status", String(16), nullable=True),
        Column("to_status", String(16), nullable=False),
        Column("detail", Text, nullable=False),
        Index("ix_events_submission", "source", "pk", "id"),
        sqlite_autoincrement=True,
    )
    return metadata
