"""Database engines and transactions for the ledger: SQLite (file, WAL) or PostgreSQL (psycopg 3).

Every write runs in `transact`, which serialises SQLite writers up front and retries transient conflicts
(a write that is one statement in autocommit on PostgreSQL only needs the retries: `retrying`).
`reading`, `writing` and `transact` take an engine (a pooled connection each) or a connection already
checked out, so one request can run several transactions over one connection. `driver_row` runs the
statements every allocation runs on PostgreSQL through psycopg directly.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import orjson
import psycopg
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
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

    @staticmethod
    def stored(value: dt.datetime) -> dt.datetime:
        """The naive UTC timestamp a value is stored as (for statements written as SQL text)."""
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else self.stored(value)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class _WriteGate:
    """Queues the writers of one SQLite file, in this process (a lock) and across processes (`flock` on a
    file beside it), before they BEGIN IMMEDIATE. SQLite's own busy handler polls with sleeps of up to
    100 ms, which under load leaves the file idle while writers sleep; a blocked `flock` wakes at once."""

    def __init__(self, path: str) -> None:
        self.path = path + ".write-lock"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None or self._pid != os.getpid():  # a forked child needs its own open file
                self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_GATES: dict[str, _WriteGate] = {}
_GATES_LOCK = threading.Lock()


def _write_gate(engine: Engine) -> _WriteGate | None:
    """The gate of a SQLite file engine (one per file and process), None for PostgreSQL or in-memory."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        return None
    with _GATES_LOCK:
        return _GATES.setdefault(os.path.abspath(path), _WriteGate(os.path.abspath(path)))


def connect(dsn: str, *, pool_size: int = 10) -> Engine:
    """An engine for `dsn` (`sqlite:///file.db` or `postgresql+psycopg://...`) set up for the ledger.

    SQLite: WAL (readers never block the writer), a busy timeout, and transactions begun by us so a
    write transaction takes the write lock at BEGIN (`BEGIN IMMEDIATE`) instead of failing mid-way;
    writers queue for it on a `_WriteGate`. PostgreSQL: a pool of `pool_size` connections (plus overflow);
    one the server has closed while it was idle in the pool is replaced at checkout.
    """
    if dsn.startswith("sqlite"):
        engine = create_engine(
            dsn,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=_json_text,
            json_deserializer=orjson.loads,
        )

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
    engine = create_engine(
        dsn, pool_size=pool_size, max_overflow=2 * pool_size, json_serializer=_json_text, json_deserializer=orjson.loads
    )

    @event.listens_for(engine, "checkout")
    def _pg_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken or _said_something(dbapi_connection.fileno()):
            raise DisconnectionError("the server closed the connection while it was idle in the pool")

    return engine


def _said_something(fd: int) -> bool:
    """Whether an idle connection's socket has input, which it only has once the server ended it (restart,
    idle timeout, terminated backend): a check without a round trip, where a ping would cost one per
    checkout. The pool then replaces the connection."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _json_text(value: Any) -> str:
    """JSON columns as orjson writes them: the same JSON as the standard library's, several times faster."""
    return orjson.dumps(value).decode()


def is_postgres(conn: Connection | Engine) -> bool:
    return conn.dialect.name == "postgresql"


@contextmanager
def _connection(bind: Engine | Connection) -> Iterator[Connection]:
    """A pooled connection for an engine (returned after), or the caller's own connection as it is."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@contextmanager
def reading(bind: Engine | Connection, *, consistent: bool = False) -> Iterator[Connection]:
    """A read transaction (or the transaction a given connection is in). SQLite (WAL) always reads one
    snapshot; PostgreSQL does so only when `consistent` (REPEATABLE READ, one extra statement), else each
    statement sees the latest commits."""
    with _connection(bind) as conn:
        if conn.in_transaction():  # the caller's transaction: read in it
            yield conn
            return
        if consistent and is_postgres(conn):
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield conn
            return
        with conn.begin():
            yield conn


@contextmanager
def writing(bind: Engine | Connection) -> Iterator[Connection]:
    """A write transaction: on SQLite it holds the database's single write lock from BEGIN to COMMIT."""
    with _connection(bind) as conn:
        gate = _write_gate(conn.engine)
        with gate.held() if gate is not None else _no_gate():
            conn.execution_options(**{_WRITE: True})  # changes `conn` in place, so it is reset below
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execution_options(**{_WRITE: False})


@contextmanager
def _no_gate() -> Iterator[None]:
    yield


def _transient(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _PG_TRANSIENT or "database is locked" in str(exc.orig)


def retrying(work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `work`; a deadlock or serialization failure (it wrote nothing) runs it again after a pause."""
    for attempt in range(attempts):
        try:
            return work()
        except DBAPIError as exc:
            if attempt + 1 == attempts or not _transient(exc):
                raise
            time.sleep(0.01 * 2**attempt)
    raise AssertionError("unreachable")


def transact(bind: Engine | Connection, work: Callable[[Connection], T], *, attempts: int = 5) -> T:
    """Run `work` in one write transaction; a deadlock or lock timeout rolls back and runs it again."""

    def once() -> T:
        with writing(bind) as conn:
            return work(conn)

    return retrying(once, attempts=attempts)


def driver_row(conn: Connection, sql: str, params: Mapping[str, Any]) -> tuple[Any, ...]:
    """The one row `sql` returns, run by psycopg itself on a PostgreSQL connection (in its transaction,
    or in autocommit). For the statements every allocation runs: SQLAlchemy's work per execution (an
    execution context, result metadata, row processing) costs more than psycopg's. psycopg prepares a
    statement it has run a few times on a connection, and parses JSON columns with the engine's
    deserializer. Errors come as SQLAlchemy's (`IntegrityError`, ...), as from any other statement."""
    driver = cast("psycopg.Connection[Any]", conn.connection.driver_connection)
    with driver.cursor() as cursor:
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        except psycopg.Error as exc:
            raise DBAPIError.instance(sql, params, exc, psycopg.Error, hide_parameters=True) from exc
    if row is None:
        raise AssertionError("the statement returned no row")
    return row
