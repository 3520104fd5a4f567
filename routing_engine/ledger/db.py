"""Database engines and transactions for the ledger: SQLite (file, WAL) or PostgreSQL (psycopg 3).

Every write runs in `transact`, which serialises SQLite writers up front and retries transient conflicts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

#: Milliseconds a SQLite writer waits for the file lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: PostgreSQL SQLSTATEs worth retrying: deadlock detected, serialization failure.
_PG_TRANSIENT = {"40P01", "40001"}
_WRITE = "ledger_write"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime stored as a naive UTC timestamp, so SQLite and PostgreSQL compare alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def connect(dsn: str, *, pool_size: int = 10) -> Engine:
    """An engine for `dsn` (`sqlite:///file.db` or `postgresql+psycopg://...`) set up for the ledger.

    SQLite: WAL (readers never block the writer), a busy timeout, and transactions begun by us so a
    write transaction takes the write lock at BEGIN (`BEGIN IMMEDIATE`) instead of failing mid-way.
    """
    if dsn.startswith("sqlite"):
        engine = create_engine(dsn, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        return engine
    return create_engine(dsn, pool_size=pool_size, max_overflow=2 * pool_size, pool_pre_ping=True)


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


@contextmanager
def reading(engine: Engine, *, consistent: bool = False) -> Iterator[Connection]:
    """A read transaction. SQLite (WAL) always reads one snapshot; PostgreSQL does so only when
    `consistent` (REPEATABLE READ, two extra round trips), else each statement sees the latest commits."""
    with engine.connect() as conn:
        if consistent and is_postgres(conn):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction: on SQLite it holds the database's single write lock from BEGIN to COMMIT."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


def _transient(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _PG_TRANSIENT or "database is locked" in str(exc.orig)


def transact(engine: Engine, work: Callable[[Connection], T], *, attempts: int = 5) -> T:
    """Run `work` in one write transaction; a deadlock or lock timeout rolls back and runs it again."""
    for attempt in range(attempts):
        try:
            with writing(engine) as conn:
                return work(conn)
        except DBAPIError as exc:
            if attempt + 1 == attempts or not _transient(exc):
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")
