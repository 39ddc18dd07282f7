"""Story briefs and novelty: ``alert_ledger.version`` / ``sent_version`` (a brief is one ledger row edited
in place, version by version) and ``story_novelty`` (new / follow-up / rehash, decided once per story).

Existing rows keep every value; their new columns are NULL (no brief).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_ledger") as batch:
        batch.add_column(sa.Column("version", sa.Integer))
        batch.add_column(sa.Column("sent_version", sa.Integer))
    op.create_table(
        "story_novelty",
        sa.Column("story_id", sa.String(40), primary_key=True),
        sa.Column("tag", sa.String(16), nullable=False),
        sa.Column("first_article_id", sa.String(40), nullable=False),
        sa.Column("first_source", sa.Text, nullable=False),
        sa.Column("first_published_at", sa.DateTime, nullable=False),
        sa.Column("earlier_story_id", sa.String(40)),
        sa.Column("earlier_headline", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_story_novelty_decided_at", "story_novelty", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_story_novelty_decided_at", "story_novelty")
    op.drop_table("story_novelty")
    with op.batch_alter_table("alert_ledger") as batch:
        batch.drop_column("sent_version")
        batch.drop_column("version")
