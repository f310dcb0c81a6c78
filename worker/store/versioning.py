"""The scoring database's schema version: what revision a database is at, the plan to bring it
to the code's head, and applying that plan with Alembic run programmatically from the scripts
shipped in `worker/store/migrations/` (package data, so it works from an installed wheel).

I/O: connects to the database named by the URL; `inspect_schema` only reads (a SQLite file is
opened read-only), `prepare_schema` and `apply_plan` write. How to add a revision:
docs/migrations.md.

What a database can be, and what start-up (`prepare_schema`) does with it:

    empty         no tables of ours              create the tables at head and stamp head
    unversioned   the b34d137 release's tables,   (SQLite: backup first) stamp the baseline,
                  no alembic_version              then migrate like "older"
    older         a revision before head         SQLite: online backup next to the file, then
                                                 migrate; PostgreSQL: refuse (MigrationRequired)
                                                 until `python -m worker migrate --yes`
    current       at head                        nothing
    newer         a revision this code lacks     refuse (SchemaNewerThanCode), write nothing
    unrecognised  our tables, but not matching   refuse (SchemaUnrecognised), write nothing

Writes run in one transaction that first takes the database's write lock (SQLite BEGIN
IMMEDIATE; a PostgreSQL advisory lock) and re-reads the state, so workers starting together
migrate once. SQLite migrations run with foreign keys off (Alembic's batch mode rebuilds
tables) and `PRAGMA foreign_key_check` must come back clean before the commit.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, func, inspect, make_url
from sqlalchemy import select as sql_select

from worker.errors import (
    MigrationRequired,
    SchemaError,
    SchemaNewerThanCode,
    SchemaUnrecognised,
)
from worker.store.migrations.baseline_schema import BASELINE_REVISION, TABLES, baseline_metadata
from worker.store.schema import metadata

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).with_name("migrations")
SCHEMA_LOCK = 7_311_004  # PostgreSQL advisory lock key; the b34d137 create_schema used it too

EMPTY = "empty"
UNVERSIONED = "unversioned"
OLDER = "older"
CURRENT = "current"
NEWER = "newer"
UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class Revision:
    id: str
    message: str


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the code. `pending` are the revisions an upgrade would
    apply, oldest first (for an empty database: none, the tables are created at head)."""

    database: str  # the URL without its password
    backend: str  # "sqlite" | "postgresql"
    kind: str  # one of EMPTY, UNVERSIONED, OLDER, CURRENT, NEWER, UNRECOGNISED
    current: str | None  # the revision stored in alembic_version
    head: str
    pending: tuple[Revision, ...] = ()
    problems: tuple[str, ...] = ()


# -- the scripts ----------------------------------------------------------------------------


def alembic_config(connection: Connection | None = None, scripts: Path = SCRIPTS) -> Config:
    """An Alembic config for the script folder (the shipped one unless a test passes its own);
    with `connection`, env.py runs on it."""
    config = Config()
    config.set_main_option("script_location", str(scripts))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def script_directory(scripts: Path = SCRIPTS) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(scripts=scripts))


def revision_chain(scripts: Path = SCRIPTS) -> tuple[Revision, ...]:
    """Every revision the code knows, oldest first."""
    return tuple(_revision(s) for s in reversed(list(script_directory(scripts).walk_revisions())))


def _revision(script: Any) -> Revision:
    return Revision(script.revision, script.doc.strip().splitlines()[0] if script.doc else "")


def _head(scripts: ScriptDirectory) -> str:
    heads = scripts.get_heads()
    if len(heads) != 1:  # two revisions landed on the same parent: see docs/migrations.md
        raise SchemaError(f"the shipped migrations have {len(heads)} heads {heads}; expected one")
    return heads[0]


def _pending(scripts: ScriptDirectory, current: str) -> tuple[Revision, ...]:
    chain = list(scripts.iterate_revisions(_head(scripts), current))
    return tuple(_revision(s) for s in reversed(chain))


# -- engines ----------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path | None:
    database = url.database
    return None if not database or database == ":memory:" else Path(database)


def _read_only_engine(url: URL) -> Engine | None:
    """An engine that cannot write; None for a SQLite file that does not exist yet."""
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is None or not path.exists() or path.stat().st_size == 0:
            return None
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    # One snapshot for every query of the inspection: under READ COMMITTED, a worker creating
    # the schema at that moment could be seen half (no alembic_version yet, its tables already),
    # which reads as an unversioned database that PostgreSQL workers refuse to migrate.
    return create_engine(
        url, connect_args=_pg_connect_args(url), isolation_level="REPEATABLE READ"
    ).execution_options(postgresql_readonly=True)


def _pg_connect_args(url: URL) -> dict[str, Any]:
    return {} if "connect_timeout" in url.query else {"connect_timeout": 10}


def _writing_engine(url: URL, busy_timeout_s: float) -> Engine:
    """SQLite: BEGIN IMMEDIATE, WAL, foreign keys left off (batch table rebuilds)."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, connect_args=_pg_connect_args(url))
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# -- reading the state ------------------------------------------------------------------------


def inspect_schema(url: str | URL, *, scripts: Path = SCRIPTS) -> SchemaState:
    """Where the database stands. Writes nothing (a SQLite file is opened read-only)."""
    parsed = make_url(url)
    database = parsed.render_as_string(hide_password=True)
    engine = _read_only_engine(parsed)
    if engine is None:
        return SchemaState(database, parsed.get_backend_name(), EMPTY, None,
                           _head(script_directory(scripts)))
    try:
        with engine.connect() as conn:
            return _state_of(conn, database, scripts)
    finally:
        engine.dispose()


def _state_of(conn: Connection, database: str, folder: Path) -> SchemaState:
    scripts = script_directory(folder)
    head = _head(scripts)
    backend = conn.dialect.name
    stored = MigrationContext.configure(conn).get_current_heads()
    if len(stored) > 1:
        return SchemaState(database, backend, UNRECOGNISED, None, head,
                           problems=(f"alembic_version holds several revisions {stored}",))
    if stored:
        current = stored[0]
        known = {s.revision for s in scripts.walk_revisions()}
        if current not in known:
            return SchemaState(database, backend, NEWER, current, head)
        if current == head:
            return SchemaState(database, backend, CURRENT, current, head)
        return SchemaState(database, backend, OLDER, current, head, _pending(scripts, current))
    ours = set(inspect(conn).get_table_names()) & (set(TABLES) | set(metadata.tables))
    if not ours:
        return SchemaState(database, backend, EMPTY, None, head)
    problems = baseline_differences(conn)
    if problems:
        return SchemaState(database, backend, UNRECOGNISED, None, head, problems=tuple(problems))
    return SchemaState(database, backend, UNVERSIONED, None, head,
                       _pending(scripts, BASELINE_REVISION))


def baseline_differences(conn: Connection) -> list[str]:
    """How the database's tables differ from the b34d137 release's (empty: they match)."""

    def ours(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in TABLES

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_name": ours}
    )
    return [describe_difference(d) for d in compare_metadata(context, baseline_metadata())]


def describe_difference(diff: Any) -> str:
    """One of compare_metadata's diff tuples as a sentence about the database."""
    if isinstance(diff, list):  # modify_* come as a list of one tuple per column
        return "; ".join(describe_difference(d) for d in diff)
    kind = diff[0]
    if kind == "add_table":
        return f"table {diff[1].name} is missing"
    if kind == "remove_table":
        return f"unexpected table {diff[1].name}"
    if kind in ("add_column", "remove_column"):
        where = "is missing" if kind == "add_column" else "is unexpected"
        return f"column {diff[2]}.{diff[3].name} {where}"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        item = diff[1]
        table = getattr(item, "table", None)
        where = "is missing" if kind.startswith("add") else "is unexpected"
        return f"{kind.split('_')[1]} {item.name} on {getattr(table, 'name', '?')} {where}"
    if kind in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        _, _schema, table, column, _info, found, expected = diff
        what = kind.split("_")[1]
        return f"column {table}.{column}: {what} is {found}, expected {expected}"
    return repr(diff)


# -- the plan ---------------------------------------------------------------------------------


def plan_lines(state: SchemaState) -> list[str]:
    """The plan as a person reads it (what `migrate` prints)."""
    lines = [f"database: {state.database}"]
    if state.kind == EMPTY:
        lines.append(f"empty: the tables will be created at revision {state.head} (head)")
    elif state.kind == CURRENT:
        lines.append(f"schema at revision {state.current} (head): nothing to do")
    elif state.kind == NEWER:
        lines.append(newer_message(state))
    elif state.kind == UNRECOGNISED:
        lines.append("the tables match no known schema revision:")
        lines.extend(f"  - {problem}" for problem in state.problems)
    else:
        at = (f"at revision {state.current}" if state.kind == OLDER else
              f"no version, the tables of the b34d137 release (stamped {BASELINE_REVISION} "
              "first)")
        lines.append(f"schema {at}; code head {state.head}")
        lines.append("plan:" if state.pending else "plan: nothing to migrate after the stamp")
        lines.extend(f"  {r.id}  {r.message}" for r in state.pending)
    return lines


def newer_message(state: SchemaState) -> str:
    return (f"the database {state.database} is at schema revision {state.current}, newer than "
            f"this worker (head {state.head}): it was migrated by a newer release; run that "
            "release (or restore the backup taken before the upgrade). Nothing was written.")


def schema_verdict(url: str | URL) -> tuple[str | None, str | None]:
    """For `doctor`, reading only: (a problem, or None; a note, or None)."""
    state = inspect_schema(url)
    if state.kind in (NEWER, UNRECOGNISED):
        return plan_lines(state)[1] if state.kind == NEWER else (
            f"database {state.database}: {'; '.join(state.problems)}"), None
    if state.kind == CURRENT:
        return None, f"database reachable, schema at revision {state.current} (head)"
    if state.kind == EMPTY:
        return None, "database reachable, empty: the worker creates the tables when it starts"
    if state.backend != "sqlite" and state.pending:
        return (f"database schema needs revisions {', '.join(r.id for r in state.pending)}: "
                "back up (pg_dump), then `python -m worker migrate --config FILE --yes`"), None
    return None, (f"database reachable; the worker will back it up and bring its schema to "
                  f"{state.head} when it starts (`python -m worker migrate` shows the plan)")


def needs_writing(state: SchemaState) -> bool:
    return state.kind in (EMPTY, UNVERSIONED, OLDER)


def refuse_unusable(state: SchemaState) -> None:
    if state.kind == NEWER:
        raise SchemaNewerThanCode(newer_message(state))
    if state.kind == UNRECOGNISED:
        raise SchemaUnrecognised(
            f"the database {state.database} has tables that match no known schema revision "
            f"({'; '.join(state.problems)}); nothing was written. Point the config at the "
            "right database, or restore it from a backup.")


# -- applying ---------------------------------------------------------------------------------


def prepare_schema(url: str | URL, now: datetime, *, busy_timeout_s: float = 30.0,
                   scripts: Path = SCRIPTS) -> SchemaState:
    """The start-up check: bring the database to head or refuse (see the module docstring).
    Returns the state found before any change."""
    state = inspect_schema(url, scripts=scripts)
    refuse_unusable(state)
    if needs_writing(state):
        apply_plan(url, now, busy_timeout_s=busy_timeout_s, upgrade_postgresql=False,
                   scripts=scripts, state=state)
    return state


def apply_plan(url: str | URL, now: datetime, *, busy_timeout_s: float = 30.0,
               upgrade_postgresql: bool = True, scripts: Path = SCRIPTS,
               state: SchemaState | None = None) -> Path | None:
    """Bring the database to head; for an existing SQLite file, back it up first and return
    the copy's path. Raises a SchemaError, writing nothing, for a newer or unrecognised
    database, or for a PostgreSQL one needing revisions unless `upgrade_postgresql`.
    `state`: what `inspect_schema` just found, if the caller has it (it is checked again
    under the lock)."""
    parsed = make_url(url)
    state = state or inspect_schema(parsed, scripts=scripts)
    _refuse(state, upgrade_postgresql)
    if not needs_writing(state):
        return None
    backup = None
    path = _sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
    engine = _writing_engine(parsed, busy_timeout_s)
    try:
        with _locked(engine) as conn:
            found = _state_of(conn, state.database, scripts)  # another worker may be first
            _refuse(found, upgrade_postgresql)
            if path is not None and found.kind in (UNVERSIONED, OLDER):
                # Under the write lock: readers go on, no one writes, one worker copies.
                backup = backup_sqlite(path, now, found.current or "unversioned")
            _migrate(conn, found, scripts)
    finally:
        engine.dispose()
    if found.kind != CURRENT:
        applied = ", ".join(r.id for r in found.pending) or "none"
        log.info("schema of %s: %s -> %s (revisions applied: %s)", state.database,
                 found.current or found.kind, found.head, applied)
    return backup


def _refuse(state: SchemaState, upgrade_postgresql: bool) -> None:
    refuse_unusable(state)
    if state.backend != "sqlite" and state.pending and not upgrade_postgresql:
        raise MigrationRequired(
            f"the database {state.database} is at schema "
            f"{state.current or 'of the b34d137 release'} and this worker needs {state.head}: "
            "on PostgreSQL the worker does not migrate by itself. Stop every worker, take a "
            "dump (pg_dump -Fc -f before-upgrade.dump DBNAME), then run "
            "`python -m worker migrate --config FILE --yes`.")


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sql_select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
        yield conn
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise SchemaError(f"migration left {len(broken)} broken foreign key(s), "
                                  f"e.g. {tuple(broken[0])}; rolled back, nothing changed")


def _migrate(conn: Connection, state: SchemaState, scripts: Path) -> None:
    config = alembic_config(conn, scripts)
    if state.kind == EMPTY:
        metadata.create_all(conn)
        command.stamp(config, "head")
    elif state.kind == UNVERSIONED:
        command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")
    elif state.kind == OLDER:
        command.upgrade(config, "head")


def backup_sqlite(path: Path, now: datetime, label: str) -> Path:
    """An online copy of the database next to it (sqlite3's backup API: consistent even while
    others read), checked with quick_check; returns its path."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.before-{label}-upgrade-{stamp}.bak")
    for n in range(2, 100):
        if not target.exists():
            break
        target = path.with_name(f"{path.name}.before-{label}-upgrade-{stamp}-{n}.bak")
    partial = target.with_name(target.name + ".partial")
    source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        partial.unlink()
        raise SchemaError(f"the backup of {path} failed its check ({verdict}); not migrating")
    partial.replace(target)
    log.info("schema: backed up %s to %s before migrating", path, target)
    return target
