"""Database backends for integration tests: SQLite always (a file in tmp_path); PostgreSQL on
127.0.0.1:5432 (trust auth, database `test`, user `postgres` or `root`, or the URL in
NEUCO_TEST_POSTGRES_URL) when reachable, each test in a fresh schema dropped afterwards, skipped
with the reason when the server is unreachable. Import the fixtures into a test module:
`from tests.integration.databases import database_url, postgres_url  # noqa: F401`.
I/O: connects to PostgreSQL to create and drop the schemas.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

POSTGRES_CANDIDATES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)


def libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq conninfo URI (psycopg does not know the +driver part)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    import psycopg

    override = os.environ.get("NEUCO_TEST_POSTGRES_URL")
    problems = []
    for url in (override,) if override else POSTGRES_CANDIDATES:
        try:
            with psycopg.connect(libpq(url), connect_timeout=2):
                return url
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())[:160]
            problems.append(f"{make_url(url).render_as_string()}: {reason}")
    pytest.skip("PostgreSQL unreachable: " + "; ".join(problems))


def fresh_postgres_schema(base: str, prefix: str) -> tuple[str, str]:
    """A new empty schema; returns (its name, a URL whose search_path is that schema)."""
    import psycopg

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, url.render_as_string(hide_password=False)


def drop_postgres_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(libpq(base), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scores.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema, url = fresh_postgres_schema(base, "migration_test")
    try:
        yield url
    finally:
        drop_postgres_schema(base, schema)
