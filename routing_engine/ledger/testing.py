"""Test fixtures for code that uses the ledger: a tiny named network, orders, a clock, a PostgreSQL schema.

Used by tests/ledger and tests/api so both suites run on the same data against SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from routing_engine.model import (
    Destination,
    Inbound,
    Line,
    Node,
    Order,
    Policy,
    Problem,
    Sku,
    StockLevel,
    Tariff,
)

#: The PostgreSQL server tests run against; each test gets its own schema in it.
POSTGRES_DSN = os.environ.get("ROUTING_ENGINE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

#: Where the tiny network's nodes are, and where its orders are delivered to (next to a node).
PLACES = {"nyc": (40.71, -74.01), "chi": (41.88, -87.63), "lax": (34.05, -118.24)}
AS_OF = dt.date(2026, 1, 5)


def tiny_network() -> Problem:
    """Three US warehouses, three SKUs, a little stock and one purchase order.

    nyc: tee 5, mug 2 (1 of it safety stock); chi: tee 3, lamp 0 with 6 lamps inbound (po-1, 5 days);
    lax: mug 4, of which 2 are withheld from the marketplace channel. Shipping costs 5 per package
    plus 0.002 per km, so the closest node with stock wins.
    """
    return Problem(
        as_of=AS_OF,
        currency="USD",
        nodes=[Node(id=n, country="US", lat=lat, lon=lon, tariff="ground") for n, (lat, lon) in PLACES.items()],
        skus=[Sku(id="tee", weight_kg=0.3), Sku(id="mug", weight_kg=0.5), Sku(id="lamp", weight_kg=2.0)],
        stock=[
            StockLevel(node="nyc", sku="tee", on_hand=5),
            StockLevel(node="nyc", sku="mug", on_hand=2, safety_stock=1),
            StockLevel(node="chi", sku="tee", on_hand=3),
            StockLevel(node="chi", sku="lamp", on_hand=0),
            StockLevel(node="lax", sku="mug", on_hand=4, channel_buffers={"marketplace": 2}),
        ],
        inbound=[Inbound(id="po-1", node="chi", sku="lamp", quantity=6, eta=AS_OF + dt.timedelta(days=5))],
        orders=[],
        policy=Policy(split_cost=2.0, backorder_cost_per_unit_day=0.1, unfilled_penalty_per_unit=100.0),
        tariffs={"ground": Tariff(currency="USD", prices=[[5.0]], per_package_km=0.002)},
    )


def order(order_id: str, *lines: tuple[str, int], near: str = "nyc", channel: str = "web") -> Order:
    """An order delivered next to node `near`, one line per (sku, quantity), lines named 1, 2, ..."""
    lat, lon = PLACES[near]
    return Order(
        id=order_id,
        channel=channel,
        currency="USD",
        destination=Destination(country="US", lat=lat + 0.01, lon=lon + 0.01),
        lines=[Line(id=str(i), sku=sku, quantity=q, unit_price=10.0) for i, (sku, q) in enumerate(lines, 1)],
    )


class FakeClock:
    """A settable UTC clock, shared safely between threads; starts on the network's as_of date."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.combine(AS_OF, dt.time(9), tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += dt.timedelta(**delta)


def postgres_reachable(dsn: str = POSTGRES_DSN) -> str | None:
    """None if the server answers, else why not."""
    try:
        engine = create_engine(dsn, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: not reachable
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


def backend_dsn(backend: str, directory: Path) -> Iterator[str]:
    """For a pytest fixture: a DSN to an empty database on "sqlite" (a file in `directory`) or "postgres".

    PostgreSQL unreachable skips the test, or fails it when CI=true, so CI cannot pass without it.
    """
    import pytest

    if backend == "sqlite":
        yield f"sqlite:///{directory / 'ledger.db'}"
        return
    problem = _postgres_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is unreachable on CI: {problem}")
        pytest.skip(f"PostgreSQL is unreachable: {problem}")
    with postgres_schema() as dsn:
        yield dsn


@functools.cache
def _postgres_problem() -> str | None:
    return postgres_reachable()


@contextmanager
def postgres_schema(dsn: str = POSTGRES_DSN) -> Iterator[str]:
    """A fresh, empty schema for one test; yields a DSN whose search_path is that schema, then drops it."""
    name = "t_" + secrets.token_hex(6)
    admin = create_engine(dsn, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        url = make_url(dsn).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()
