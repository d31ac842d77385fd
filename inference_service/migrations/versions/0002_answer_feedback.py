"""Ratings of answers (helpful or not), the question's focus in the history, rate-limit events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inference_history") as batch:
        batch.add_column(sa.Column("focus", sa.String(255), nullable=True))
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "history_id",
            sa.Integer(),
            sa.ForeignKey(
                "inference_history.id", ondelete="CASCADE", name="fk_answer_feedback_history"
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("answer_id", sa.String(128), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("focus", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("history_id", "answer_id", name="uq_answer_feedback_history_answer"),
    )
    op.create_index("ix_answer_feedback_user_id", "answer_feedback", ["user_id"])
    op.create_index("ix_answer_feedback_model_version", "answer_feedback", ["model_version"])
    op.create_table(
        "inference_rate_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inference_rate_events_key_at", "inference_rate_events", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_inference_rate_events_key_at", table_name="inference_rate_events")
    op.drop_table("inference_rate_events")
    op.drop_index("ix_answer_feedback_model_version", table_name="answer_feedback")
    op.drop_index("ix_answer_feedback_user_id", table_name="answer_feedback")
    op.drop_table("answer_feedback")
    with op.batch_alter_table("inference_history") as batch:
        batch.drop_column("focus")
