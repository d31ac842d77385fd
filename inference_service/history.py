"""Query history in the service's own database (SQLAlchemy 2; SQLite locally, PostgreSQL in prod).

Questions are health data: they are stored only for logged-in users, returned only to their
owner, deleted on request, purged after HISTORY_RETENTION_DAYS, and never logged.

Ratings of answers (answer_feedback) belong to a history entry: they keep no question text of
their own, and go whenever their entry goes (deleted, purged, or the account deleted).
The schema is Alembic's (inference_service/migrations, version table
`inference_alembic_version`); databases made by the old `create_all` are stamped at the
baseline and upgraded.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common import db as common_db
from common.db import make_engine
from common.errors import APIError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "inference_alembic_version"  # own name: the database may be shared with others
BASELINE = "0001"  # the schema `create_all` made before migrations existed
_PG_MIGRATION_LOCK = 0x494E464552  # arbitrary advisory-lock id ("INFER")

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


class HistoryEntry(Base):
    __tablename__ = "inference_history"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    question: Mapped[str] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    abstained: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    answer_ids: Mapped[str] = mapped_column(sa.Text, default="[]")  # JSON list of MedQuAD ids
    model_version: Mapped[str] = mapped_column(sa.String(64))
    latency_ms: Mapped[float] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    # The MedQuAD condition the question was understood to be about (null when none).
    focus: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)

    def to_dict(self) -> dict:
        created = _utc(self.created_at)
        return {
            "id": self.id,
            "question": self.question,
            "category": self.category,
            "urgent": self.urgent,
            "abstained": self.abstained,
            "answer_ids": json.loads(self.answer_ids or "[]"),
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 2),
            "created_at": created.isoformat().replace("+00:00", "Z"),
        }


class Feedback(Base):
    """One person's rating of one answer of one of their history entries."""

    __tablename__ = "answer_feedback"
    __table_args__ = (
        sa.UniqueConstraint("history_id", "answer_id", name="uq_answer_feedback_history_answer"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    history_id: Mapped[int] = mapped_column(
        sa.ForeignKey("inference_history.id", ondelete="CASCADE", name="fk_answer_feedback_history")
    )
    user_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    answer_id: Mapped[str] = mapped_column(sa.String(128))
    rank: Mapped[int] = mapped_column(sa.Integer)  # 1 = the first answer shown
    helpful: Mapped[bool] = mapped_column(sa.Boolean)
    reason: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    model_version: Mapped[str] = mapped_column(sa.String(64), index=True)
    category: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    focus: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    def to_dict(self) -> dict:
        return {
            "history_id": self.history_id,
            "answer_id": self.answer_id,
            "helpful": self.helpful,
            "reason": self.reason,
            "model_version": self.model_version,
            "updated_at": _iso(self.updated_at),
        }


class RateEvent(Base):
    """One counted action (a rating) for a sliding-window limit shared by every worker."""

    __tablename__ = "inference_rate_events"
    __table_args__ = (sa.Index("ix_inference_rate_events_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(sa.String(128))
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


def _utc(value: datetime) -> datetime:
    # SQLite drops the zone; we always store UTC
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


class NotFound(APIError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message, "not_found")


class RateLimited(APIError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"Too many ratings; try again in {retry_after} seconds.",
            "rate_limited",
            {"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


_INSERT = sa.insert(HistoryEntry.__table__)


class DatabaseUnavailable(APIError):
    def __init__(self) -> None:
        super().__init__(503, "The history database is unavailable; try again.", "db_unavailable")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HistoryStore:
    """Engine plus the few queries the service needs; every failure becomes a 503 APIError."""

    def __init__(self, url: str, retention_days: float):
        self.url = url
        self.retention = timedelta(days=retention_days)
        self.engine = make_engine(url)
        self._tables_ready = False
        self._lock = threading.Lock()

    def ensure_tables(self) -> bool:
        """Migrate the schema to the newest revision if needed; False (and retried on next use)
        if the DB is down."""
        if self._tables_ready:
            return True
        with self._lock:
            if self._tables_ready:
                return True
            for attempt in range(2):
                try:
                    migrate(self.engine)
                    self._tables_ready = True
                    return True
                except (SQLAlchemyError, OSError) as exc:
                    log.warning("history tables not ready (%s)", type(exc).__name__)
                    if attempt == 0:
                        time.sleep(0.2)
            return False

    def _ready(self) -> None:
        if not self.ensure_tables():
            raise DatabaseUnavailable()

    def add(self, user_id: str, question: str, result: dict, latency_ms: float) -> int:
        """Store one answered question (a Core insert: this runs on every triage); its id."""
        self._ready()
        row = {
            "focus": ((result.get("focus") or {}).get("matched") or "")[:255] or None,
            "user_id": user_id,
            "question": question,
            "category": (result.get("category") or {}).get("label"),
            "urgent": bool(result.get("urgent")),
            "abstained": bool(result.get("abstained")),
            "answer_ids": json.dumps([a["id"] for a in result.get("answers", [])]),
            "model_version": str(result.get("model_version", "")),
            "latency_ms": float(latency_ms),
            "created_at": _utcnow(),
        }
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(_INSERT, row).inserted_primary_key[0])
        except SQLAlchemyError:
            log.warning("history write failed")
            self._tables_ready = False  # check the schema again once the DB is back
            raise DatabaseUnavailable() from None

    def list(self, user_id: str, limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        self._ready()
        cutoff = _utcnow() - self.retention
        where = (HistoryEntry.user_id == user_id, HistoryEntry.created_at >= cutoff)
        try:
            with sa.orm.Session(self.engine) as session:
                total = session.scalar(sa.select(sa.func.count()).where(*where))
                rows = session.scalars(
                    sa.select(HistoryEntry)
                    .where(*where)
                    .order_by(HistoryEntry.created_at.desc(), HistoryEntry.id.desc())
                    .limit(limit)
                    .offset(offset)
                ).all()
                items = [r.to_dict() for r in rows]
                ratings: dict[int, dict] = {}
                if rows:
                    for f in session.scalars(
                        sa.select(Feedback).where(
                            Feedback.history_id.in_([r.id for r in rows]),
                            Feedback.user_id == user_id,
                        )
                    ):
                        ratings.setdefault(f.history_id, {})[f.answer_id] = f.to_dict()
                for item in items:
                    item["feedback"] = ratings.get(item["id"], {})
                return items, int(total or 0)
        except SQLAlchemyError:
            log.warning("history read failed")
            self._tables_ready = False  # check the schema again once the DB is back
            raise DatabaseUnavailable() from None

    def delete_user(self, user_id: str) -> int:
        self._ready()
        try:
            with sa.orm.Session(self.engine) as session, session.begin():
                # SQLite does not enforce ON DELETE CASCADE unless asked to: delete explicitly.
                session.execute(sa.delete(Feedback).where(Feedback.user_id == user_id))
                result = session.execute(
                    sa.delete(HistoryEntry).where(HistoryEntry.user_id == user_id)
                )
                return int(result.rowcount or 0)
        except SQLAlchemyError:
            log.warning("history delete failed")
            self._tables_ready = False  # check the schema again once the DB is back
            raise DatabaseUnavailable() from None

    def purge(self, now: datetime | None = None) -> int:
        """Delete every entry older than the retention period; returns how many."""
        self._ready()
        cutoff = (now or _utcnow()) - self.retention
        try:
            with sa.orm.Session(self.engine) as session, session.begin():
                old = sa.select(HistoryEntry.id).where(HistoryEntry.created_at < cutoff)
                session.execute(sa.delete(Feedback).where(Feedback.history_id.in_(old)))
                result = session.execute(
                    sa.delete(HistoryEntry).where(HistoryEntry.created_at < cutoff)
                )
                # Rate-limit events only matter inside their window (minutes): a day is plenty.
                day_ago = (now or _utcnow()) - timedelta(days=1)
                session.execute(sa.delete(RateEvent).where(RateEvent.at < day_ago))
                return int(result.rowcount or 0)
        except SQLAlchemyError:
            log.warning("history purge failed")
            self._tables_ready = False  # check the schema again once the DB is back
            raise DatabaseUnavailable() from None

    def _own_entry(self, session, user_id: str, history_id: int) -> HistoryEntry:
        """The caller's entry within retention; 404 alike for missing and someone else's."""
        entry = session.get(HistoryEntry, history_id)
        cutoff = _utcnow() - self.retention
        if entry is None or entry.user_id != user_id or _utc(entry.created_at) < cutoff:
            raise NotFound("No such entry in your history.")
        return entry

    @staticmethod
    def _answer_rank(entry: HistoryEntry, answer_id: str) -> int:
        ids = json.loads(entry.answer_ids or "[]")
        if answer_id not in ids:
            raise NotFound("That answer is not one of the answers to this question.")
        return ids.index(answer_id) + 1

    def rate(
        self, user_id: str, history_id: int, answer_id: str, helpful: bool, reason: str | None
    ) -> tuple[dict, bool]:
        """Record (or change) the caller's rating of one answer; (the rating, newly created)."""
        self._ready()
        for attempt in range(2):  # a concurrent first rating of the same answer: update it
            try:
                return self._rate(user_id, history_id, answer_id, helpful, reason)
            except IntegrityError:
                if attempt:
                    raise DatabaseUnavailable() from None
            except SQLAlchemyError:
                log.warning("feedback write failed")
                self._tables_ready = False
                raise DatabaseUnavailable() from None
        raise DatabaseUnavailable()  # not reached

    def _rate(self, user_id, history_id, answer_id, helpful, reason) -> tuple[dict, bool]:
        now = _utcnow()
        with sa.orm.Session(self.engine) as session, session.begin():
            entry = self._own_entry(session, user_id, history_id)
            rank = self._answer_rank(entry, answer_id)
            rating = session.scalar(
                sa.select(Feedback).where(
                    Feedback.history_id == entry.id, Feedback.answer_id == answer_id
                )
            )
            created = rating is None
            if created:
                rating = Feedback(
                    history_id=entry.id,
                    user_id=user_id,
                    answer_id=answer_id,
                    rank=rank,
                    model_version=entry.model_version,
                    category=entry.category,
                    focus=entry.focus,
                    created_at=now,
                )
                session.add(rating)
            rating.helpful = helpful
            rating.reason = reason
            rating.updated_at = now
            session.flush()
            return rating.to_dict(), created

    def withdraw(self, user_id: str, history_id: int, answer_id: str) -> bool:
        """Delete the caller's rating of one answer; False if there was none."""
        self._ready()
        try:
            with sa.orm.Session(self.engine) as session, session.begin():
                entry = self._own_entry(session, user_id, history_id)
                self._answer_rank(entry, answer_id)
                result = session.execute(
                    sa.delete(Feedback).where(
                        Feedback.history_id == entry.id, Feedback.answer_id == answer_id
                    )
                )
                return bool(result.rowcount)
        except SQLAlchemyError:
            log.warning("feedback delete failed")
            self._tables_ready = False
            raise DatabaseUnavailable() from None

    def take_rate(self, key: str, limit: int, window: float) -> None:
        """Count one action against `limit` per `window` seconds for `key`, or raise a 429.

        Kept in the database so every gunicorn worker shares the count. Check, then record:
        racing requests can overshoot by the number in flight, never more.
        """
        if limit <= 0:
            return
        self._ready()
        now = _utcnow()
        since = now - timedelta(seconds=window)
        try:
            with sa.orm.Session(self.engine) as session, session.begin():
                in_window = (RateEvent.key == key, RateEvent.at > since)
                count = session.scalar(sa.select(sa.func.count(RateEvent.id)).where(*in_window))
                if count >= limit:
                    # A slot frees when the event that filled the window leaves it.
                    freeing = session.scalar(
                        sa.select(RateEvent.at)
                        .where(*in_window)
                        .order_by(RateEvent.at)
                        .offset(count - limit)
                        .limit(1)
                    )
                    wait = (_utc(freeing) - since).total_seconds() if freeing else window
                    raise RateLimited(max(1, math.ceil(wait)))
                session.add(RateEvent(key=key, at=now))
        except SQLAlchemyError:
            log.warning("rate-limit check failed")
            self._tables_ready = False
            raise DatabaseUnavailable() from None

    def start_purger(self, every_seconds: float) -> threading.Thread | None:
        """Purge old entries now and every `every_seconds` in a daemon thread."""
        if every_seconds <= 0:
            return None

        def run() -> None:
            while True:
                try:
                    removed = self.purge()
                    if removed:
                        log.info("purged %d history entries past retention", removed)
                except APIError:
                    pass
                time.sleep(every_seconds)

        thread = threading.Thread(target=run, name="history-purger", daemon=True)
        thread.start()
        return thread


def alembic_config() -> AlembicConfig:
    return common_db.alembic_config(MIGRATIONS_DIR, VERSION_TABLE)


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision`; a history table made by the old create_all (no
    version table) is stamped at the baseline first, so it is upgraded, not created again."""
    cfg = alembic_config()

    def stamp_old_tables(conn: sa.Connection) -> None:
        inspector = sa.inspect(conn)
        if not inspector.has_table(VERSION_TABLE) and inspector.has_table(
            HistoryEntry.__tablename__
        ):
            log.info("history table predates migrations: stamping revision %s", BASELINE)
            command.stamp(cfg, BASELINE)

    common_db.upgrade(engine, cfg, _PG_MIGRATION_LOCK, revision, before=stamp_old_tables)
