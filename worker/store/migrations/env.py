"""Alembic's environment for the scoring database: how a migration run gets its connection and
what autogenerate compares against. Alembic executes this file for every command; it is not
meant to be imported.

- Run by the worker (`worker.store.versioning`): the caller passes an open connection inside
  its own transaction in `config.attributes["connection"]`; everything runs in that transaction.
- Run by a developer (`alembic -c alembic.ini ...`, docs/migrations.md): the URL comes from
  `-x url=...` or `sqlalchemy.url` in alembic.ini.

`render_as_batch`: SQLite cannot ALTER most things, so autogenerate writes batch operations
(copy, alter, swap), which PostgreSQL runs as plain ALTERs.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.types import TypeDecorator

from worker.store.schema import metadata


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our TypeDecorators (UtcDateTime, NanDouble) into revisions as the plain type they
    store, so a revision never imports worker code that may change after it."""
    if kind == "type" and isinstance(obj, TypeDecorator):  # script.py.mako imports sa
        return f"sa.{obj.impl!r}"
    return False


def configure(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        render_item=render_item,
        compare_type=True,
    )


def run() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    if config.config_file_name is not None:  # the alembic command line: its logging set-up
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if context.is_offline_mode():  # `--sql`: print the SQL instead of running it
        context.configure(url=url, target_metadata=metadata, render_item=render_item,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run()
