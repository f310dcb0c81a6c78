"""The scoring database: submissions, their evaluations (per-task and per-split scores) and an
event log of every state change, through SQLAlchemy Core. `SqlScoreStore` is composed
of one class per role, all over one engine: `SqlIntake` (intake: new submissions), `SqlClaims`
(claims and leases), `SqlResults` (results and final states) and `SqlScoreQueries` (queries: the
read side and history); `SqlWrites` (transactions) is their compare-and-set footing. Tables and
records are in `schema`, statuses and leases in `states`, the SQLite connection set-up in
`sqlite`, the schema version and migrations in `versioning`; this module opens the engine and
brings the schema to the code's revision.

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

from datetime import UTC, datetime

from sqlalchemy import create_engine, make_url

from worker.store.claims import SqlClaims
from worker.store.intake import SqlIntake
from worker.store.queries import SqlScoreQueries
from worker.store.results import SqlResults
from worker.store.service_state import SqlServiceState
from worker.store.sqlite import sqlite_engine
from worker.store.transactions import LeaseLost
from worker.store.versioning import prepare_schema

__all__ = ["LeaseLost", "SqlScoreStore"]

class SqlScoreStore(SqlIntake, SqlClaims, SqlResults, SqlServiceState, SqlScoreQueries):
    """The scoring database on SQLite (`sqlite:///path.db`) or PostgreSQL
    (`postgresql+psycopg://user@host:5432/db`). This class opens the engine and creates the
    schema; its roles are the base classes (intake, claims and leases, results, queries, the
    service's own state: open alerts and the last success of each periodic job)."""

    def __init__(
        self, url: str, *, busy_timeout_s: float = 30.0, connect_timeout_s: int = 10
    ) -> None:
        parsed = make_url(url)
        self._busy_timeout_s = busy_timeout_s
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
        """Bring the database to the code's schema revision before anything else touches it:
        create an empty one, stamp one of the b34d137 release, migrate an older SQLite one
        after a backup copy; refuse (a `SchemaError`, nothing written) a newer or unrecognised
        one, or an older PostgreSQL one. Safe to call from every worker at once. See
        `worker.store.versioning`."""
        prepare_schema(self._engine.url, datetime.now(UTC), busy_timeout_s=self._busy_timeout_s)
