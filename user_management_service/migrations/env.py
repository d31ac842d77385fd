"""Alembic environment: runs on the connection the app hands over (db.migrate)."""

from alembic import context

from user_management_service.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `python -m user_management_service migrate`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=config.get_main_option("version_table") or "alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
