"""Fixtures of the API suite: a TestClient on a fresh, seeded ledger, on SQLite and on PostgreSQL.

Small limits (3 orders per batch, 3 lines per order, 20 kB bodies) and a `FakeClock` to cross TTLs.
Auth is on as when served: `client` sends an admin key; `tokens` makes a key per role on the same ledger.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from routing_engine.api.main import create_app
from routing_engine.api.settings import Settings
from routing_engine.ledger import keys
from routing_engine.ledger.testing import FakeClock, backend_dsn, tiny_network

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2 over httpx; either works
    from fastapi.testclient import TestClient

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    network = tmp_path / "network.json"
    network.write_text(tiny_network().model_dump_json())
    for dsn in backend_dsn(request.param, tmp_path):
        settings = Settings(
            database_url=dsn,
            network=network,
            hold_ttl_s=600,
            sweep_interval_s=0,
            max_orders_per_batch=3,
            max_lines_per_order=3,
            max_body_bytes=20_000,
        )
        app = create_app(settings)
        with TestClient(app) as test_client:
            app.state.ledger = dataclasses.replace(app.state.ledger, clock=clock)
            _, token = keys.create(app.state.ledger.engine, "admin", name="tests")
            test_client.headers["Authorization"] = f"Bearer {token}"
            yield test_client
