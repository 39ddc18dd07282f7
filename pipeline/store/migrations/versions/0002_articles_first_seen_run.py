"""articles.first_seen_run: the run that archived an item first (late arrivals are processed by it).

Version 1 code added this column without bumping its schema version, so a version-1 database may have
it already; it is added only where it is missing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "first_seen_run" not in {c["name"] for c in inspector.get_columns("articles")}:
        with op.batch_alter_table("articles") as batch:
            batch.add_column(sa.Column("first_seen_run", sa.Text))
    if "ix_articles_first_seen_run" not in {i["name"] for i in inspector.get_indexes("articles")}:
        op.create_index("ix_articles_first_seen_run", "articles", ["first_seen_run"])


def downgrade() -> None:
    op.drop_index("ix_articles_first_seen_run", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("first_seen_run")
