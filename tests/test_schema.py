"""The migrations build exactly the schema the models describe."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from shop.db import SCHEMA_HEAD, alembic_config, make_engine, schema_is_current
from shop.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    # given a database migrated to head (the fixture)
    # when its schema is compared with the models
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    # then nothing differs
    assert differences == []


def test_the_schema_head_every_command_checks_is_the_scripts_head(
    engine: Engine, tmp_path: Path
) -> None:
    # given the migration scripts
    script = ScriptDirectory.from_config(alembic_config(engine))
    # then the head the commands compare with is theirs, and a migrated database is current
    assert script.get_current_head() == SCHEMA_HEAD
    assert schema_is_current(engine)
    # and one a revision behind is not (the PostgreSQL schema is the session's: put back)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0021'"))
        assert not schema_is_current(engine)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE alembic_version SET version_num = '{SCHEMA_HEAD}'"))
    # nor one never migrated
    assert not schema_is_current(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
