"""SQLite specifics of the scoring database: the engine `SqlScoreStore` uses for a `sqlite:///`
URL, with WAL, foreign keys and BEGIN IMMEDIATE for every write transaction (see the
package's `sql_store` for why). Creating the engine opens nothing; the hooks run on each
connection it later opens.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event

# Execution option: a SQLite read transaction needs no write lock (plain BEGIN, not IMMEDIATE).
READ_ONLY = "neuco_read_only"


def sqlite_engine(url: URL, busy_timeout_s: float) -> Engine:
    """An engine whose connections wait up to `busy_timeout_s` for another writer's lock."""
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (_on_begin); pysqlite's implicit BEGIN would be DEFERRED.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers and one writer across processes
    # synchronous stays FULL: a commit (a claim, a recorded result) must survive a power cut.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so a read-then-write transaction waits for another
    # writer (busy timeout) instead of failing when its read snapshot goes stale.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
