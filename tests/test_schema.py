"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from shop.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    # given a database migrated to head (the fixture)
    # when its schema is compared with the models
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    # then nothing differs
    assert differences == []
