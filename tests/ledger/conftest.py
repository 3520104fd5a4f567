"""Fixtures of the ledger suite: every test runs once on SQLite and once on the PostgreSQL server.

Each test gets a fresh database (a SQLite file, or its own PostgreSQL schema) seeded with `tiny_network`.
On CI (CI=true) an unreachable PostgreSQL fails the postgres tests instead of skipping them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from routing_engine.ledger import Ledger, connect, seed, upgrade
from routing_engine.ledger.testing import FakeClock, backend_dsn, tiny_network

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def dsn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from backend_dsn(request.param, tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(dsn: str, clock: FakeClock) -> Iterator[Ledger]:
    """A migrated ledger seeded with the tiny network; holds live 10 minutes of the fake clock."""
    engine = connect(dsn)
    upgrade(engine)
    network = tiny_network()
    seed(engine, network)
    yield Ledger(engine=engine, network=network, clock=clock, hold_ttl=dt.timedelta(minutes=10))
    engine.dispose()
