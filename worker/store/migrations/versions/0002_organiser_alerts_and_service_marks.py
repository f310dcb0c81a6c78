"""Organiser alerts and service marks: two new tables, no change to existing rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Why (issue 9, "never stuck, never silent"): `alerts` keeps the organiser alerts that were sent
and not yet resolved, so that a restarted worker neither repeats an open alert nor forgets to say
"resolved"; `service_marks` keeps the last success of each periodic job (poll, publish,
reconcile) for `python -m worker status`. Both start empty on an existing database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "service_marks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("service_marks")
    op.drop_table("alerts")
