"""Sliding-window limits kept in the database, so every worker and task shares them.

One table of events (a failed login, a registration, a token request) keyed by what is
limited, e.g. "register:address:203.0.113.7". A limit allows `max` events per key inside the
last `window` seconds; each event row carries its own expiry so one prune serves every window.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from user_management_service.db import session
from user_management_service.models import RateEvent, utcnow


@dataclass(frozen=True)
class Limit:
    key: str
    max: int  # events allowed inside the window; 0 or less turns the limit off
    window: int  # seconds


class RateLimited(Exception):
    def __init__(self, retry_after: int, key: str):
        super().__init__(f"{key}: retry after {retry_after}s")
        self.retry_after = retry_after
        self.key = key


def check(limits: list[Limit]) -> None:
    """Raise RateLimited (the longest wait) if any key already has `max` events in its window."""
    now = utcnow()
    worst: tuple[float, str] | None = None
    for limit in limits:
        if limit.max <= 0:
            continue
        since = now - timedelta(seconds=limit.window)
        in_window = RateEvent.key == limit.key, RateEvent.at > since
        count = session().scalar(select(func.count(RateEvent.id)).where(*in_window))
        if count < limit.max:
            continue
        # A slot frees when the event that put the key over its limit leaves the window
        # (concurrent requests can overshoot by a few, so not always the oldest).
        freeing = session().scalar(
            select(RateEvent.at).where(*in_window).order_by(RateEvent.at)
            .offset(count - limit.max).limit(1)
        )  # fmt: skip
        wait = (freeing - since).total_seconds() if freeing is not None else limit.window
        if worst is None or wait > worst[0]:
            worst = (wait, limit.key)
    if worst is not None:
        raise RateLimited(max(1, math.ceil(worst[0])), worst[1])


def record(limits: list[Limit]) -> None:
    """Add one event to each limit's key."""
    sess = session()
    now = utcnow()
    sess.add_all(
        [
            RateEvent(key=limit.key, at=now, expires_at=now + timedelta(seconds=limit.window))
            for limit in limits
            if limit.max > 0
        ]
    )
    # Prune now and then, not on every event; check() ignores stale rows anyway.
    if random.random() < 0.05:  # noqa: S311 - not security relevant  # nosec B311
        sess.execute(delete(RateEvent).where(RateEvent.expires_at < now))
    sess.commit()


def take(limits: list[Limit]) -> None:
    """Count one request against every limit, or raise RateLimited without counting it.

    Check, then record: requests racing each other can overshoot a limit by about the number
    of requests in flight (a few per worker), never more.
    """
    check(limits)
    record(limits)


def clear(key: str) -> None:
    sess = session()
    sess.execute(delete(RateEvent).where(RateEvent.key == key))
    sess.commit()
