"""The store as version 1 created it (``create_all`` plus a ``schema_info`` row), before Alembic.

Databases made by that code are stamped with this revision and upgraded from here.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("migrated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "feed_state",
        sa.Column("feed_id", sa.String(64), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_attempt_at", sa.DateTime),
        sa.Column("last_success_at", sa.DateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("last_status", sa.Integer),
        sa.Column("encoding", sa.String(40)),
        sa.Column("items_last", sa.Integer, nullable=False),
        sa.Column("items_seen", sa.Integer, nullable=False),
        sa.Column("new_items_total", sa.Integer, nullable=False),
        sa.Column("backoff_until", sa.DateTime),
        sa.Column("failure_notified", sa.Boolean, nullable=False),
    )
    op.create_table(
        "articles",
        sa.Column("article_id", sa.String(40), primary_key=True),
        sa.Column("feed_id", sa.String(64), nullable=False),
        sa.Column("source_name", sa.Text),
        sa.Column("guid", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("canonical_url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("published_at", sa.DateTime),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("event_at", sa.DateTime, nullable=False),
        sa.Column("page_status", sa.String(20)),
        sa.Column("story_id", sa.String(40)),
        sa.Column("minhash", sa.LargeBinary),
    )
    op.create_index("ix_articles_event_at", "articles", ["event_at"])
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_index("ix_articles_canonical_url", "articles", ["canonical_url"])
    op.create_table(
        "classifications",
        sa.Column("article_id", sa.String(40), primary_key=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("relevant", sa.Boolean, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("event_type", sa.String(32)),
        sa.Column("companies", sa.Text, nullable=False),
        sa.Column("chips", sa.Text, nullable=False),
        sa.Column("counterparties", sa.Text, nullable=False),
        sa.Column("amount", sa.Text),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("classified_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "alert_ledger",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("story_id", sa.String(40)),
        sa.Column("article_id", sa.String(40)),
        sa.Column("parent_alert_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("claim_token", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("permalink", sa.Text),
        sa.Column("payload", sa.Text),
        sa.Column("model_version", sa.String(64)),
        sa.Column("run_id", sa.Text),
        sa.Column("interval_start", sa.DateTime),
        sa.Column("interval_end", sa.DateTime),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("posted_at", sa.DateTime),
    )
    op.create_index("ix_alert_ledger_state", "alert_ledger", ["state"])
    op.create_index("ix_alert_ledger_story", "alert_ledger", ["story_id", "channel"])
    op.create_table(
        "model_registry",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("promoted_at", sa.DateTime),
        sa.Column("is_current", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "model_registry",
        "alert_ledger",
        "classifications",
        "articles",
        "feed_state",
        "schema_info",
    ):
        op.drop_table(table)
