"""Models in the store: their bytes (``model_artifacts``) and metadata (``model_registry.card``), so any
worker that shares the database can load the promoted model. ``schema_info`` gives way to Alembic.

Models registered before this revision have no bytes in the store: ``python -m pipeline train`` (run by
``make demo``/``make up`` and the compose init service when the promoted model cannot be loaded)
trains and registers a new one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_artifacts",
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("model_registry") as batch:
        batch.add_column(sa.Column("card", sa.Text, nullable=False, server_default="{}"))
        batch.alter_column("path", existing_type=sa.Text, nullable=True)
    op.drop_table("schema_info")


def downgrade() -> None:
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("migrated_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("model_registry") as batch:
        batch.drop_column("card")
    op.drop_table("model_artifacts")
