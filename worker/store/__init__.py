"""The scoring database (a room of the worker): submissions, their evaluations with per-task and
per-split scores, and an event log of every state change, through SQLAlchemy Core on SQLite or
PostgreSQL. Importing it connects to nothing; `SqlScoreStore(url)` does.

Public names (import them from `worker.store`; its modules are private to the package):
    SqlScoreStore       the store: claims and leases, results, history (reads)
    LeaseLost           a write by a worker that no longer holds the lease
    SubmissionInfo, StoredSubmission, EvaluationRecord, BoardEntry, Event   its records
    RECEIVED, RUNNING, FINISHED, FAILED, CANCELLED, STATUSES                 submission states
    metadata            the SQLAlchemy tables (for schema tools)

Modules: sql_store (SqlScoreStore: opens the engine, creates the schema, composes the roles),
intake (new submissions), claims (claims and leases), results (results and final states), queries
(the read side: listings, events, evaluations, board candidates), transactions (the write
transaction, event log and compare-and-set the roles share), schema (tables and records), states
(statuses, leases, one compare-and-set step), sqlite (SQLite connection set-up). It imports
nothing else of the worker but `worker.errors`.
"""

from worker.store.schema import (
    STATUSES,
    BoardEntry,
    EvaluationRecord,
    Event,
    StoredSubmission,
    SubmissionInfo,
    metadata,
)
from worker.store.sql_store import LeaseLost, SqlScoreStore
from worker.store.states import CANCELLED, FAILED, FINISHED, RECEIVED, RUNNING

__all__ = [
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
    "SqlScoreStore",
    "StoredSubmission",
    "SubmissionInfo",
    "metadata",
]
