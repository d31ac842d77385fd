"""Alembic environment: runs on the connection the service hands over (history.migrate)."""

from common.db import run_env
from inference_service.history import Base

run_env(Base.metadata, "the inference service (history.migrate)")
