"""Brings a ledger database to the newest schema with Alembic, safely from several processes at once.

Called at startup by the API and by tests; there is no alembic.ini, the script location is this package.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from routing_engine.ledger.db import is_postgres, writing

MIGRATIONS = Path(__file__).parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises schema changes and seeding between workers.
SETUP_LOCK = 0x524F555445


def lock_setup(conn: Connection) -> None:
    """Serialise setup (migrations, seeding) between processes; SQLite's BEGIN IMMEDIATE already does."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to `revision` in one transaction (PostgreSQL DDL is transactional)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with writing(engine) as conn:
        lock_setup(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
