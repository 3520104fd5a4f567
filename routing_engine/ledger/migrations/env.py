"""Alembic environment: runs migrations on the connection handed over by `migrate.upgrade`.

There is no alembic.ini and no URL here; the caller owns the connection and its transaction.
"""

from __future__ import annotations

from alembic import context

from routing_engine.ledger.schema import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
