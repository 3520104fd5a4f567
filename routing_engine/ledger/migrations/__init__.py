"""Alembic migrations of the ledger schema, run programmatically by `routing_engine.ledger.migrate`.

Each file in `versions/` is one revision; never edit a released one, add the next.
"""
