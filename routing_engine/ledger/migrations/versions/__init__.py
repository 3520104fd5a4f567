"""Ledger schema revisions, oldest first (Alembic skips this file).

The newest revision must produce exactly `routing_engine.ledger.schema.metadata`.
"""
