"""Upgrading a database written by the b34d137 release (the last one without schema versions)
to the code's head, on SQLite and PostgreSQL: every submission, evaluation, per-task and
per-split score and event survives (row counts and checksums over the release's columns), and
both leaderboards render exactly as that release rendered them.

SQLite: `tests/fixtures/release-b34d137/scores.db`, made by that release's `make demo` (its
README says how). PostgreSQL: the same rows, written by the b34d137 code itself (checked out
from git into a temporary folder and run in a subprocess: its create_schema, then its tables'
inserts); skipped with the reason when PostgreSQL or the commit is unavailable.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select

from tests.integration.databases import (  # noqa: F401
    drop_postgres_schema,
    fresh_postgres_schema,
    postgres_url,
)
from worker.cli import main
from worker.store import (
    CURRENT,
    UNVERSIONED,
    baseline_metadata,
    inspect_schema,
    script_directory,
)

RELEASE = "b34d137"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / f"release-{RELEASE}"
REPO = Path(__file__).resolve().parents[2]
PHASES = ("dev", "final")
HEAD = script_directory().get_current_head()


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """(row count, SHA-256 over the rows in key order) per table of the release, over the
    release's columns only (later revisions may add columns)."""
    engine = create_engine(url)
    digests = {}
    try:
        with engine.connect() as conn:
            for table in baseline_metadata().sorted_tables:
                key = list(table.primary_key.columns)
                rows = conn.execute(select(*table.columns).order_by(*key)).all()
                digest = hashlib.sha256()
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
                digests[table.name] = (len(rows), digest.hexdigest())
    finally:
        engine.dispose()
    return digests


def release_board(phase: str) -> str:
    return (FIXTURE / f"leaderboard-{phase}.txt").read_text()


def run_worker(*argv: str, env: dict[str, str]) -> str:
    out = io.StringIO()
    assert main(list(argv), env=env, out=out) == 0
    return out.getvalue()


def render_board(config: Path, phase: str, env: dict[str, str]) -> str:
    return run_worker("leaderboard", "show", phase, "--config", str(config), env=env)


def status_table(config: Path, env: dict[str, str]) -> str:
    out = run_worker("status", "--config", str(config), env=env)
    return "".join(line + "\n" for line in out.splitlines()
                   if line.split()[:1] in (["phase"], *([p] for p in PHASES)))


@pytest.fixture
def challenge(tmp_path: Path) -> Path:
    """The fixture's config (the demo's leaderboard settings) with its own data folder."""
    config = tmp_path / "challenge.yaml"
    text = (FIXTURE / "challenge.yaml").read_text()
    config.write_text(text.replace("data_dir: var", f"data_dir: {tmp_path / 'var'}"))
    (tmp_path / "var").mkdir()
    return config


def test_the_sqlite_database_of_the_release_upgrades_with_everything_kept(
    challenge: Path, tmp_path: Path
) -> None:
    db = tmp_path / "var" / "scores.db"
    shutil.copy(FIXTURE / "scores.db", db)
    url = f"sqlite:///{db}"
    before = table_digests(url)
    assert inspect_schema(url).kind == UNVERSIONED
    assert before["submissions"][0] == 12 and before["split_scores"][0] > 10_000

    # `status` is an ordinary start-up: it backs up, stamps and migrates by itself.
    counts = status_table(challenge, {})

    assert inspect_schema(url).kind == CURRENT
    assert table_digests(url) == before
    assert counts == (FIXTURE / "status.txt").read_text()
    for phase in PHASES:
        assert render_board(challenge, phase, {}) == release_board(phase)
    (backup,) = (tmp_path / "var").glob("scores.db.before-unversioned-upgrade-*.bak")
    assert table_digests(f"sqlite:///{backup}") == before


# -- PostgreSQL, written by the release's own code ----------------------------------------------


@pytest.fixture(scope="module")
def release_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The b34d137 tree, from this repository's history."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    found = subprocess.run([git, "-C", str(REPO), "cat-file", "-e", f"{RELEASE}^{{commit}}"],
                           capture_output=True)
    if found.returncode != 0:
        pytest.skip(f"commit {RELEASE} is not in this clone's history (shallow clone?)")
    target = tmp_path_factory.mktemp(f"release-{RELEASE}")
    archive = target / "tree.tar"
    subprocess.run([git, "-C", str(REPO), "archive", "-o", str(archive), RELEASE], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target / "tree", filter="data")
    return target / "tree"


# Runs with the release's code: its create_schema on PostgreSQL, then every row of the fixture
# through its own tables (its column types convert SQLite's values as it would have).
LOAD_WITH_RELEASE = """
import sys
import worker.store as release
from sqlalchemy import create_engine, select, text
from worker.store_schema import metadata
assert release.__file__.startswith(sys.argv[3]), release.__file__
source, target = sys.argv[1], sys.argv[2]
store = release.SqlScoreStore(target)
store.create_schema()
store.close()
reader, writer = create_engine(source), create_engine(target)
with reader.connect() as src, writer.begin() as dst:
    for table in metadata.sorted_tables:
        rows = [dict(r._mapping) for r in src.execute(select(table))]
        if rows:
            dst.execute(table.insert(), rows)
    for table, column in (("submissions", "id"), ("inbox_keys", "pk"), ("evaluations", "id"),
                          ("events", "id")):
        dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                         f"(SELECT max({column}) FROM {table}))"))
"""


@pytest.fixture
def release_postgres(postgres_url: str, release_code: Path) -> Iterator[str]:  # noqa: F811
    schema, url = fresh_postgres_schema(postgres_url, "release_upgrade")
    try:
        env = {**os.environ, "PYTHONPATH": str(release_code)}
        subprocess.run(
            [sys.executable, "-c", LOAD_WITH_RELEASE, f"sqlite:///{FIXTURE / 'scores.db'}",
             url, str(release_code)],
            cwd=release_code, env=env, check=True, timeout=300,
        )
        yield url
    finally:
        drop_postgres_schema(postgres_url, schema)


@pytest.mark.postgres
def test_the_postgresql_database_of_the_release_upgrades_with_everything_kept(
    release_postgres: str, release_code: Path, challenge: Path
) -> None:
    env = {"DATABASE_URL": release_postgres}
    release_env = {**os.environ, "PYTHONPATH": str(release_code), **env}
    boards_by_release = {
        phase: subprocess.run(
            [sys.executable, "-m", "worker", "leaderboard", "show", phase, "--config",
             str(challenge)], cwd=release_code, env=release_env, check=True, timeout=300,
            capture_output=True, text=True).stdout
        for phase in PHASES
    }
    assert boards_by_release == {phase: release_board(phase) for phase in PHASES}
    before = table_digests(release_postgres)
    assert before["submissions"][0] == 12
    assert inspect_schema(release_postgres).kind == UNVERSIONED

    migrated = run_worker("migrate", "--config", str(challenge), "--yes", env=env)
    assert f"migrated: schema at revision {HEAD} (head)" in migrated

    assert inspect_schema(release_postgres).kind == CURRENT
    assert make_url(release_postgres).get_backend_name() == "postgresql"
    assert table_digests(release_postgres) == before
    assert status_table(challenge, env) == (FIXTURE / "status.txt").read_text()
    for phase in PHASES:
        assert render_board(challenge, phase, env) == boards_by_release[phase]
