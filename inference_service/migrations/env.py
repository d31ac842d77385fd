"""Alembic environment: runs on the connection the service hands over (history.migrate)."""

from alembic import context

from inference_service.history import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through the inference service (history.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=config.get_main_option("version_table") or "inference_alembic_version",
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
