"""Sliding-window limit on failed logins, kept in the database so all workers share it."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from sqlalchemy import delete, func, select

from user_management_service.db import session
from user_management_service.models import LoginFailure, utcnow


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


def check(limits: list[tuple[str, int]], window_seconds: int) -> None:
    """Raise RateLimited if any key already has `limit` failures inside the window."""
    now = utcnow()
    since = now - timedelta(seconds=window_seconds)
    waits = []
    for key, limit in limits:
        count, oldest = (
            session()
            .execute(
                select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(
                    LoginFailure.key == key, LoginFailure.at > since
                )
            )
            .one()
        )
        if count >= limit and oldest is not None:
            if oldest.tzinfo is None:  # min() bypasses the column type on SQLite
                oldest = oldest.replace(tzinfo=now.tzinfo)
            waits.append((oldest - since).total_seconds())
    if waits:
        raise RateLimited(max(1, math.ceil(max(waits))))


def record_failure(keys: list[str], window_seconds: int) -> None:
    sess = session()
    now = utcnow()
    sess.add_all([LoginFailure(key=key, at=now) for key in keys])
    # Prune now and then, not on every failure; the query above ignores stale rows anyway.
    if random.random() < 0.05:  # noqa: S311 - not security relevant  # nosec B311
        sess.execute(
            delete(LoginFailure).where(LoginFailure.at < now - timedelta(seconds=window_seconds))
        )
    sess.commit()


def clear(key: str) -> None:
    sess = session()
    sess.execute(delete(LoginFailure).where(LoginFailure.key == key))
    sess.commit()
