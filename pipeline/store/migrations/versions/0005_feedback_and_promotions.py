"""Analysts' feedback (reactions seen on alerts, votes, their history) and promotion records (evaluation
reports of candidate models, every change of the promoted model with who made it).

New tables only: every existing row is kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_reactions",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("emoji", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("first_seen_at", sa.DateTime, nullable=False),
        sa.Column("removed_at", sa.DateTime),
    )
    op.create_table(
        "feedback_votes",
        sa.Column("vote_id", sa.String(64), primary_key=True),
        sa.Column("article_id", sa.String(40), nullable=False),
        sa.Column("voter", sa.String(160), nullable=False),
        sa.Column("label", sa.String(16)),
        sa.Column("event_type", sa.String(32)),
        sa.Column("emoji", sa.Text, nullable=False),
        sa.Column("alert_id", sa.String(64)),
        sa.Column("story_id", sa.String(40)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("channel", sa.String(128)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("companies", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("first_voted_at", sa.DateTime, nullable=False),
        sa.Column("voted_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_feedback_votes_article_id", "feedback_votes", ["article_id"])
    op.create_index("ix_feedback_votes_alert_id", "feedback_votes", ["alert_id"])
    op.create_table(
        "feedback_history",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("vote_id", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(40), nullable=False),
        sa.Column("voter", sa.String(160), nullable=False),
        sa.Column("label", sa.String(16)),
        sa.Column("event_type", sa.String(32)),
        sa.Column("emoji", sa.Text, nullable=False),
        sa.Column("companies", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_feedback_history_vote_id", "feedback_history", ["vote_id"])
    op.create_table(
        "promotion_reports",
        sa.Column("report_id", sa.String(160), primary_key=True),
        sa.Column("candidate_version", sa.String(64), nullable=False),
        sa.Column("current_version", sa.String(64)),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("chart", sa.LargeBinary),
        sa.Column("run_id", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", sa.DateTime),
    )
    op.create_index("ix_promotion_reports_candidate_version", "promotion_reports", ["candidate_version"])
    op.create_table(
        "model_promotions",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64)),
        sa.Column("promoted_by", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("promoted_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_promotions")
    op.drop_index("ix_promotion_reports_candidate_version", "promotion_reports")
    op.drop_table("promotion_reports")
    op.drop_index("ix_feedback_history_vote_id", "feedback_history")
    op.drop_table("feedback_history")
    op.drop_index("ix_feedback_votes_alert_id", "feedback_votes")
    op.drop_index("ix_feedback_votes_article_id", "feedback_votes")
    op.drop_table("feedback_votes")
    op.drop_table("feedback_reactions")
