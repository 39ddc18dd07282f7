"""Feed history and the console's reads: ``feed_runs`` (one row per fetch attempt of a feed) and
``feed_days`` (its attempts summed per day, for the feeds page's 7-day chart), and an index to page
through the alert ledger newest first.

Existing rows are untouched; both tables start empty and fill from the next fetch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_runs",
        sa.Column("feed_id", sa.String(64), primary_key=True),
        sa.Column("attempted_at", sa.DateTime, primary_key=True),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("new_items", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "feed_days",
        sa.Column("feed_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("new_items", sa.Integer, nullable=False),
    )
    op.create_index("ix_alert_ledger_created", "alert_ledger", ["created_at", "alert_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_ledger_created", "alert_ledger")
    op.drop_table("feed_days")
    op.drop_table("feed_runs")
