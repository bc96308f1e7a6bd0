"""Alembic environment: the engine comes from `shop.db.migrate`, never from a file."""

from alembic import context
from sqlalchemy import Engine

from shop.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through `leal db upgrade` (shop.db.migrate)")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
