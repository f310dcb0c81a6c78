"""Baseline: the schema of the release at commit b34d137, the last one without versioning.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01

Databases that release wrote are not migrated by this revision: the worker recognises their
tables (worker/store/migrations/baseline_schema.py) and stamps them 0001. It runs only on an empty
database built through the migration chain (tests, `alembic upgrade head`).
"""

from __future__ import annotations

from alembic import op

from worker.store.migrations.baseline_schema import baseline_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
