"""Schema versioning of the scoring database (`worker.store.versioning`), on SQLite and
PostgreSQL: the migration chain builds exactly the models, a fresh database is created at head,
a database of the b34d137 release is recognised and stamped, an older one is migrated (SQLite:
after a backup copy; PostgreSQL: only through `migrate --yes`), a newer or unrecognised one is
refused and left untouched, and `python -m worker migrate` shows and applies the plan.

The path from an older revision is exercised with a copy of the shipped scripts plus a
test-only revision on top of the shipped head (NEXT), so it does not depend on how long the
shipped chain is.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, inspect, make_url, text

from tests.integration.databases import (  # noqa: F401
    database_url,
    drop_postgres_schema,
    fresh_postgres_schema,
    postgres_url,
)
from worker.cli import main
from worker.errors import MigrationRequired, SchemaNewerThanCode, SchemaUnrecognised
from worker.store import (
    BASELINE_REVISION,
    CURRENT,
    EMPTY,
    NEWER,
    OLDER,
    SCRIPTS,
    UNRECOGNISED,
    UNVERSIONED,
    SqlScoreStore,
    alembic_config,
    apply_plan,
    baseline_metadata,
    inspect_schema,
    metadata,
    prepare_schema,
    revision_chain,
    script_directory,
)

NOW = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
HEAD = script_directory().get_current_head()
NEXT = "9001"  # a test-only revision after the shipped head
EMPTY_FILE = hashlib.sha256(b"").hexdigest()


def _stored_version(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _create_baseline_tables(url: str) -> None:
    """What the b34d137 release's create_schema left: its tables, no alembic_version."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            baseline_metadata().create_all(conn)
    finally:
        engine.dispose()


def _add_rows(url: str) -> None:
    _execute(
        url,
        "INSERT INTO submissions (source, pk, phase, team_name, method_name, is_public, "
        "is_baseline, submitted_at, received_at, status, attempts, reported, warnings) VALUES "
        "('inbox', 7, 'dev', 'Team', 'm', true, false, '2026-01-01 00:00:00', "
        "'2026-01-01 00:00:01', 'received', 0, false, '[]')",
        "INSERT INTO events (source, pk, at, to_status, detail) "
        "VALUES ('inbox', 7, '2026-01-01 00:00:01', 'received', 'new')",
    )


def _files(folder: Path) -> dict[str, str]:
    """Every file in the folder with its SHA-256 (to show that nothing was written)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


# -- the chain against the models -------------------------------------------------------------


def test_the_chain_starts_at_the_baseline_and_has_one_head() -> None:
    chain = revision_chain()
    assert chain[0].id == BASELINE_REVISION
    assert chain[0].message.startswith("Baseline: the schema of the release at commit b34d137")
    assert script_directory().get_heads() == [chain[-1].id]


def test_the_migration_chain_builds_exactly_the_models(database_url: str) -> None:  # noqa: F811
    """The CI guard: a change to worker/store/schema.py without a revision fails here."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == (HEAD,)
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
            # The guard can fail: a column the chain lacks shows up as a difference.
            extra = MetaData()
            for table in metadata.sorted_tables:
                table.to_metadata(extra)
            Table("events", extra, Column("probe_only", Integer), extend_existing=True)
            guarded = compare_metadata(MigrationContext.configure(conn), extra)
    finally:
        engine.dispose()
    assert differences == [], (
        "worker/store/schema.py and the migration chain disagree; add a revision "
        f"(docs/migrations.md): {differences}")
    assert [d[0] for d in guarded] == ["add_column"]


def test_a_fresh_database_is_created_at_head(database_url: str) -> None:  # noqa: F811
    assert inspect_schema(database_url).kind == EMPTY
    store = SqlScoreStore(database_url)
    try:
        store.create_schema()
        store.create_schema()  # idempotent
    finally:
        store.close()
    state = inspect_schema(database_url)
    assert (state.kind, state.current, state.pending) == (CURRENT, HEAD, ())
    assert _stored_version(database_url) == [HEAD]


# -- databases of the release before versioning ------------------------------------------------


def test_a_database_of_the_b34d137_release_is_stamped_after_a_backup(
    database_url: str, tmp_path: Path  # noqa: F811
) -> None:
    _create_baseline_tables(database_url)
    _add_rows(database_url)
    state = inspect_schema(database_url)
    assert (state.kind, state.current) == (UNVERSIONED, None)

    if _postgresql_waits_for_migrate(database_url):
        with pytest.raises(MigrationRequired):
            prepare_schema(database_url, NOW)
        assert _stored_version(database_url) == []  # refused: nothing written
        apply_plan(database_url, NOW)  # what `python -m worker migrate --yes` does
    else:
        prepare_schema(database_url, NOW)

    assert _stored_version(database_url) == [HEAD]
    store = SqlScoreStore(database_url)
    try:
        assert store.get("inbox", 7).status == "received"  # type: ignore[union-attr]
    finally:
        store.close()
    if make_url(database_url).get_backend_name() == "sqlite":
        backups = sorted(tmp_path.glob("scores.db.before-unversioned-upgrade-*.bak"))
        assert [b.name for b in backups] == ["scores.db.before-unversioned-upgrade-"
                                             "20261201T230000Z.bak"]
        copy = f"sqlite:///{backups[0]}"
        assert inspect_schema(copy).kind == UNVERSIONED  # the copy is the database as it was
        assert _stored_version(copy) == []


def _postgresql_waits_for_migrate(url: str) -> bool:
    """PostgreSQL databases are stamped at start-up only while the baseline is the head;
    beyond it they wait for `migrate --yes` (the operator's pg_dump first)."""
    return make_url(url).get_backend_name() == "postgresql" and HEAD != BASELINE_REVISION


def test_workers_starting_together_on_an_old_database_migrate_it_once(
    database_url: str  # noqa: F811
) -> None:
    _create_baseline_tables(database_url)
    _add_rows(database_url)
    if _postgresql_waits_for_migrate(database_url):
        apply_plan(database_url, NOW)  # migrate --yes, before the workers start
    errors: list[BaseException] = []

    def start() -> None:
        store = SqlScoreStore(database_url)
        try:
            store.create_schema()
            assert store.get("inbox", 7) is not None
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert _stored_version(database_url) == [HEAD]


def test_tables_that_match_no_revision_are_refused_untouched(database_url: str) -> None:  # noqa: F811
    _create_baseline_tables(database_url)
    _execute(database_url, "ALTER TABLE events DROP COLUMN detail")
    state = inspect_schema(database_url)
    assert state.kind == UNRECOGNISED
    assert "column events.detail is missing" in state.problems

    with pytest.raises(SchemaUnrecognised, match="column events.detail is missing"):
        SqlScoreStore(database_url).create_schema()
    assert _stored_version(database_url) == []


# -- newer than the code ------------------------------------------------------------------------


@pytest.fixture
def newer_database(database_url: str) -> Iterator[str]:  # noqa: F811
    """A database at head with one row, then stamped by an imaginary newer release."""
    store = SqlScoreStore(database_url)
    store.create_schema()
    store.close()
    _add_rows(database_url)
    _execute(database_url, "UPDATE alembic_version SET version_num = '0099'")
    yield database_url


def test_a_newer_database_is_refused_and_never_written(
    newer_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(tmp_path)
    state = inspect_schema(newer_database)
    assert (state.kind, state.current, state.head) == (NEWER, "0099", HEAD)

    with pytest.raises(SchemaNewerThanCode, match="newer than this worker"):
        SqlScoreStore(newer_database).create_schema()

    config = tmp_path / "challenge.yaml"
    config.write_text(f"database_url: '{newer_database}'\ndata_dir: {tmp_path / 'var'}\n"
                      "phases: {dev: {annotations: labels}}\n")
    for command_line in (["once"], ["status"], ["migrate", "--yes"]):
        assert main([*command_line, "--config", str(config)], env={}) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[-1].startswith("error: the database ") and "0099" in lines[-1]
        assert "newer than this worker (head" in lines[-1]
    after = _files(tmp_path)
    if make_url(newer_database).get_backend_name() == "sqlite":
        # The file is byte-identical and no backup was made; reading a WAL database read-only
        # leaves an empty -wal and its -shm index, which hold nothing.
        assert after["scores.db"] == before["scores.db"]
        assert after.get("scores.db-wal", EMPTY_FILE) == EMPTY_FILE
        assert not [name for name in after if name.endswith(".bak")]
    assert _stored_version(newer_database) == ["0099"]
    engine = create_engine(newer_database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM submissions")).scalar() == 1
    finally:
        engine.dispose()


# -- an older revision: the shipped scripts plus a test-only revision on top -----------------


@pytest.fixture
def scripts_with_next(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(SCRIPTS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / f"{NEXT}_test_note.py").write_text(textwrap.dedent(f'''\
        """Test only: a note on each event.

        Revision ID: {NEXT}
        Revises: {HEAD}
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "{NEXT}"
        down_revision = "{HEAD}"
        branch_labels = None
        depends_on = None


        def upgrade():
            with op.batch_alter_table("events") as batch:
                batch.add_column(sa.Column("note", sa.Text(), nullable=True))


        def downgrade():
            with op.batch_alter_table("events") as batch:
                batch.drop_column("note")
        '''))
    return folder


def test_an_older_sqlite_database_is_backed_up_then_migrated_at_start(
    tmp_path: Path, scripts_with_next: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    SqlScoreStore(url).create_schema()  # at the shipped head
    _add_rows(url)
    state = inspect_schema(url, scripts=scripts_with_next)
    assert (state.kind, state.current, [r.id for r in state.pending]) == (OLDER, HEAD, [NEXT])

    prepare_schema(url, NOW, scripts=scripts_with_next)

    assert _stored_version(url) == [NEXT]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert "note" in {c["name"] for c in inspect(conn).get_columns("events")}
            rows = conn.execute(text("SELECT source, pk, to_status, detail, note FROM events"))
            assert rows.all() == [("inbox", 7, "received", "new", None)]
    finally:
        engine.dispose()
    backup = tmp_path / f"scores.db.before-{HEAD}-upgrade-20261201T230000Z.bak"
    assert _stored_version(f"sqlite:///{backup}") == [HEAD]


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:  # noqa: F811
    schema, url = fresh_postgres_schema(postgres_url, "migration_test")
    try:
        yield url
    finally:
        drop_postgres_schema(postgres_url, schema)


@pytest.mark.postgres
def test_an_older_postgresql_database_waits_for_migrate_yes(
    postgres_database: str, scripts_with_next: Path
) -> None:
    SqlScoreStore(postgres_database).create_schema()
    _add_rows(postgres_database)

    with pytest.raises(MigrationRequired, match=r"pg_dump .*migrate --config FILE --yes"):
        prepare_schema(postgres_database, NOW, scripts=scripts_with_next)
    assert _stored_version(postgres_database) == [HEAD]

    assert apply_plan(postgres_database, NOW, scripts=scripts_with_next) is None  # no file copy
    assert _stored_version(postgres_database) == [NEXT]
    assert inspect_schema(postgres_database, scripts=scripts_with_next).kind == CURRENT


# -- python -m worker migrate ----------------------------------------------------------------------


def test_migrate_shows_the_plan_and_applies_it_only_with_yes(
    database_url: str, tmp_path: Path  # noqa: F811
) -> None:
    _create_baseline_tables(database_url)
    config = tmp_path / "challenge.yaml"
    config.write_text(f"database_url: '{database_url}'\ndata_dir: {tmp_path / 'var'}\n"
                      "phases: {dev: {annotations: labels}}\n")
    argv = ["migrate", "--config", str(config)]

    def migrate(*extra: str) -> tuple[int, str]:
        out = io.StringIO()
        return main([*argv, *extra], env={}, out=out), out.getvalue()

    code, shown = migrate("--dry-run")
    assert code == 0
    assert ("schema no version, the tables of the b34d137 release (stamped 0001 first); "
            f"code head {HEAD}") in shown
    assert shown.rstrip().endswith("dry run: nothing written")
    code, shown = migrate()
    assert code == 1
    assert "not applied: stop every worker, then run again with --yes" in shown
    assert _stored_version(database_url) == []

    code, applied = migrate("--yes")
    assert code == 0
    assert f"migrated: schema at revision {HEAD} (head)" in applied
    assert ("backup: " in applied) == (make_url(database_url).get_backend_name() == "sqlite")
    assert _stored_version(database_url) == [HEAD]

    code, shown = migrate()
    assert code == 0
    assert f"schema at revision {HEAD} (head): nothing to do" in shown


@pytest.mark.postgres
def test_a_worker_inspecting_while_another_creates_the_schema_sees_one_state(
        postgres_url: str) -> None:  # noqa: F811
    """A worker's start-up inspection runs several queries (alembic_version, then the tables).
    Another worker's schema creation that commits between them must not be seen half — no
    version yet but the tables already, i.e. an 'unversioned' database that a PostgreSQL
    worker refuses to migrate (seen once in CI with two workers starting together)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    schema, url = fresh_postgres_schema(postgres_url, "snapshot_test")
    writer = create_engine(url)
    try:
        creating = writer.connect()
        transaction = creating.begin()
        metadata.create_all(creating)
        command.stamp(alembic_config(creating), "head")  # all of it, not yet committed
        committed = threading.Event()

        def commit_after_first_query(conn, cursor, statement, *args) -> None:  # noqa: ANN001
            if conn is not creating and not committed.is_set():
                committed.set()
                transaction.commit()  # lands between the inspection's queries

        event.listen(Engine, "after_cursor_execute", commit_after_first_query)
        try:
            state = inspect_schema(url)
        finally:
            event.remove(Engine, "after_cursor_execute", commit_after_first_query)
        assert committed.is_set()
        assert state.kind == EMPTY, state  # the snapshot from before the commit, whole
        assert inspect_schema(url).kind == CURRENT
        creating.close()
    finally:
        writer.dispose()
        drop_postgres_schema(postgres_url, schema)
