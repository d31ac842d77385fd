"""Login failures become general rate-limit events (registrations, token requests too).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from user_management_service.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Old rows get a generous expiry: windows count by `at`, expires_at only drives pruning.
_KEEP = timedelta(days=1)


def _table(name: str, *extra: sa.Column) -> sa.Table:
    return sa.table(name, sa.column("key", sa.String), sa.column("at", UTCDateTime()), *extra)


def upgrade() -> None:
    op.create_table(
        "rate_limit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_rate_limit_events_key_at", "rate_limit_events", ["key", "at"])
    op.create_index("ix_rate_limit_events_expires_at", "rate_limit_events", ["expires_at"])
    old = _table("login_failures")
    rows = op.get_bind().execute(sa.select(old.c.key, old.c.at)).all()
    if rows:
        new = _table("rate_limit_events", sa.column("expires_at", UTCDateTime()))
        op.bulk_insert(
            new,
            [{"key": f"login:{key}", "at": at, "expires_at": at + _KEEP} for key, at in rows],
        )
    op.drop_index("ix_login_failures_key_at", table_name="login_failures")
    op.drop_table("login_failures")


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"])
    new = _table("rate_limit_events")
    rows = (
        op.get_bind()
        .execute(sa.select(new.c.key, new.c.at).where(new.c.key.startswith("login:")))
        .all()
    )
    if rows:
        op.bulk_insert(
            _table("login_failures"),
            [{"key": key.removeprefix("login:"), "at": at} for key, at in rows],
        )
    op.drop_index("ix_rate_limit_events_expires_at", table_name="rate_limit_events")
    op.drop_index("ix_rate_limit_events_key_at", table_name="rate_limit_events")
    op.drop_table("rate_limit_events")
