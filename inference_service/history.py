"""Query history in the service's own database (SQLAlchemy 2; SQLite locally, PostgreSQL in prod).

Questions are health data: they are stored only for logged-in users, returned only to their
owner, deleted on request, purged after HISTORY_RETENTION_DAYS, and never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import make_engine
from common.errors import APIError

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

    def to_dict(self) -> dict:
        created = self.created_at
        if created.tzinfo is None:  # SQLite drops the zone; we always store UTC
            created = created.replace(tzinfo=UTC)
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
        """Create the tables if needed; False (and retried on next use) if the DB is down."""
        if self._tables_ready:
            return True
        with self._lock:
            if self._tables_ready:
                return True
            for attempt in range(2):  # two workers may race on CREATE TABLE
                try:
                    Base.metadata.create_all(self.engine)
                    self._tables_ready = True
                    return True
                except SQLAlchemyError as exc:
                    log.warning("history tables not ready (%s)", type(exc).__name__)
                    if attempt == 0:
                        time.sleep(0.2)
            return False

    def _ready(self) -> None:
        if not self.ensure_tables():
            raise DatabaseUnavailable()

    def add(self, user_id: str, question: str, result: dict, latency_ms: float) -> None:
        """Store one answered question (a Core insert: this runs on every triage)."""
        self._ready()
        row = {
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
                conn.execute(_INSERT, row)
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
                return [r.to_dict() for r in rows], int(total or 0)
        except SQLAlchemyError:
            log.warning("history read failed")
            self._tables_ready = False  # check the schema again once the DB is back
            raise DatabaseUnavailable() from None

    def delete_user(self, user_id: str) -> int:
        self._ready()
        try:
            with sa.orm.Session(self.engine) as session, session.begin():
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
                result = session.execute(
                    sa.delete(HistoryEntry).where(HistoryEntry.created_at < cutoff)
                )
                return int(result.rowcount or 0)
        except SQLAlchemyError:
            log.warning("history purge failed")
            self._tables_ready = False  # check the schema again once the DB is back
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
