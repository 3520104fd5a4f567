"""The PostgreSQL pool replaces, at checkout, a connection the server ended while it was idle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from routing_engine.ledger import connect
from routing_engine.ledger.testing import backend_dsn

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    for dsn in backend_dsn("postgres", tmp_path):
        engine = connect(dsn, pool_size=1)
        yield engine
        engine.dispose()


def backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_pooled_connection_is_reused_while_the_server_keeps_it(engine: Engine) -> None:
    assert backend(engine) == backend(engine)


def test_a_connection_whose_backend_was_terminated_is_replaced_before_use_without_an_error(engine: Engine) -> None:
    """As after a server restart: the next checkout gets a new backend instead of failing its first statement."""
    first = backend(engine)
    other = connect(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
            conn.commit()
            gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 10
            while not conn.execute(gone, {"pid": first}).scalar_one() and time.monotonic() < deadline:
                conn.commit()  # the statistics views keep one snapshot per transaction
                time.sleep(0.01)
    finally:
        other.dispose()
    assert backend(engine) != first
