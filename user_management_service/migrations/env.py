"""Alembic environment: runs on the connection the app hands over (db.migrate)."""

from common.db import run_env
from user_management_service.models import Base

run_env(Base.metadata, "`python -m user_management_service migrate`")
