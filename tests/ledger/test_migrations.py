"""Alembic migrations build exactly the tables the code uses, and running them again is a no-op."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from routing_engine.ledger import connect, upgrade
from routing_engine.ledger.schema import metadata


def test_upgrading_an_empty_database_builds_the_schema_the_code_declares_and_twice_is_harmless(dsn: str) -> None:
    engine = connect(dsn)
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == "0002"
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []
