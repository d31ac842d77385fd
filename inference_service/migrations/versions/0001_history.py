"""Baseline: the query history table, as `create_all` made it before migrations existed.

Databases created that way have this table but no version table: `history.migrate` stamps
them at 0001 instead of running this revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inference_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("abstained", sa.Boolean(), nullable=False),
        sa.Column("answer_ids", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inference_history_user_id", "inference_history", ["user_id"])
    op.create_index("ix_inference_history_created_at", "inference_history", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_inference_history_created_at", table_name="inference_history")
    op.drop_index("ix_inference_history_user_id", table_name="inference_history")
    op.drop_table("inference_history")
