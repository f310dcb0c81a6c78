"""The scoring database (a room of the worker): submissions, their evaluations with per-task and
per-split scores, and an event log of every state change, through SQLAlchemy Core on SQLite or
PostgreSQL. Importing it connects to nothing; `SqlScoreStore(url)` does.

Public names (import them from `worker.store`; its modules are private to the package):
    SqlScoreStore       the store: claims and leases, results, history (reads)
    LeaseLost           a write by a worker that no longer holds the lease
    SubmissionInfo, StoredSubmission, EvaluationRecord, BoardEntry, Event   its records
    RECEIVED, RUNNING, FINISHED, FAILED, CANCELLED, STATUSES                 submission states
    metadata            the SQLAlchemy tables (for schema tools)
    StoredAlert, ServiceMark  open organiser alerts and the last success of periodic jobs
    schema versions (module versioning, Alembic scripts in migrations/; docs/migrations.md):
        SchemaState, Revision, inspect_schema, prepare_schema, apply_plan, plan_lines,
        schema_verdict, needs_writing, refuse_unusable, revision_chain, script_directory,
        alembic_config,
        SCRIPTS, BASELINE_REVISION, baseline_metadata, and the states EMPTY, UNVERSIONED,
        OLDER, CURRENT, NEWER, UNRECOGNISED

Modules: sql_store (SqlScoreStore: opens the engine, creates the schema, composes the roles),
intake (new submissions), claims (claims and leases), results (results and final states), queries
(the read side: listings, events, evaluations, board candidates), transactions (the write
transaction, event log and compare-and-set the roles share), schema (tables and records), states
(statuses, leases, one compare-and-set step), sqlite (SQLite connection set-up), service_state
(open alerts, service marks), versioning (the schema's revision: check at start-up, backup,
migrate; Alembic run on migrations/). It imports
nothing else of the worker but `worker.errors`.
"""

from worker.store.migrations.baseline_schema import BASELINE_REVISION, baseline_metadata
from worker.store.schema import (
    STATUSES,
    BoardEntry,
    EvaluationRecord,
    Event,
    StoredSubmission,
    SubmissionInfo,
    metadata,
)
from worker.store.service_state import ServiceMark, StoredAlert
from worker.store.sql_store import LeaseLost, SqlScoreStore
from worker.store.states import CANCELLED, FAILED, FINISHED, RECEIVED, RUNNING
from worker.store.versioning import (
    CURRENT,
    EMPTY,
    NEWER,
    OLDER,
    SCRIPTS,
    UNRECOGNISED,
    UNVERSIONED,
    Revision,
    SchemaState,
    alembic_config,
    apply_plan,
    inspect_schema,
    needs_writing,
    plan_lines,
    prepare_schema,
    refuse_unusable,
    revision_chain,
    schema_verdict,
    script_directory,
)

__all__ = [
    "BASELINE_REVISION",
    "CURRENT",
    "EMPTY",
    "NEWER",
    "OLDER",
    "SCRIPTS",
    "UNRECOGNISED",
    "UNVERSIONED",
    "Revision",
    "SchemaState",
    "alembic_config",
    "apply_plan",
    "baseline_metadata",
    "inspect_schema",
    "needs_writing",
    "plan_lines",
    "prepare_schema",
    "refuse_unusable",
    "revision_chain",
    "schema_verdict",
    "script_directory",
    "CANCELLED",
    "FAILED",
    "FINISHED",
    "RECEIVED",
    "RUNNING",
    "STATUSES",
    "BoardEntry",
    "EvaluationRecord",
    "Event",
    "LeaseLost",
    "ServiceMark",
    "SqlScoreStore",
    "StoredAlert",
    "StoredSubmission",
    "SubmissionInfo",
    "metadata",
]
