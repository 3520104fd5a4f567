"""The service as deployed: `routing-engine serve --workers 2` under 50 concurrent clients, and kill -9.

Slow (each test starts uvicorn); run on SQLite and on PostgreSQL like the rest of the suite. Auth is on,
as `serve` has it by default: the clients use an admin key made in the ledger before the service starts.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from benchmarks.load import served as serve_in_subprocess
from routing_engine.ledger import check, connect, keys, schema, upgrade
from routing_engine.ledger.testing import backend_dsn, order, tiny_network

pytestmark = pytest.mark.slow
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]
CLIENTS = 50


@dataclass
class Served:
    url: str
    dsn: str
    pid: int
    token: str

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, **options)

    def workers(self) -> list[int]:
        """Pids of the uvicorn worker processes (spawned children of the supervisor)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(p) for p in children if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    network = tmp_path / "network.json"
    network.write_text(tiny_network().model_dump_json())
    for dsn in backend_dsn(request.param, tmp_path):
        engine = connect(dsn)
        upgrade(engine)
        _, token = keys.create(engine, "admin", name="test_served")
        engine.dispose()
        settings = {"ROUTING_ENGINE_SWEEP_INTERVAL_S": "0", "ROUTING_ENGINE_HOLD_TTL_S": "3600"}
        with serve_in_subprocess(dsn, network, 2, tmp_path, settings) as (url, pid):
            yield Served(url, dsn, pid, token)


RETRIES: list[str] = []


def allocate_until_answered(client: httpx.Client, key: str, body: dict[str, object]) -> httpx.Response:
    """POST with an Idempotency-Key, retrying the same key while the connection fails (worker killed)."""
    for _ in range(50):
        try:
            return client.post("/v1/allocations", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            RETRIES.append(key)
            time.sleep(0.1)
    raise AssertionError(f"no answer for {key}")


def assert_ledger_consistent(served: Served) -> None:
    """Journal, stock and holds agree, nothing is oversold, and each allocation holds what it decided."""
    engine = connect(served.dsn)
    try:
        assert check(engine) == []
        a, r = schema.allocations, schema.reservations
        with engine.connect() as conn:
            results = dict(conn.execute(select(a.c.id, a.c.results)).all())
            held = dict(
                conn.execute(select(r.c.allocation_id, func.sum(r.c.quantity)).group_by(r.c.allocation_id)).all()
            )
    finally:
        engine.dispose()
    for allocation_id, (first, *_) in ((k, v) for k, v in results.items() if v):
        decided = sum(line["quantity"] for package in first["packages"] for line in package["lines"])
        assert held.get(allocation_id, 0) == decided, allocation_id
    with served.client() as client:
        for row in client.get("/v1/stock").json():
            assert row["reserved"] <= row["on_hand"] - row["safety_stock"], row


def test_fifty_clients_on_two_workers_never_oversell_scarce_stock_and_all_get_an_answer(served: Served) -> None:
    def client(i: int) -> list[int]:
        rng = random.Random(i)
        with served.client(timeout=60) as http:
            codes = []
            for k in range(3):
                wanted = order(f"o{i}-{k}", ("tee", rng.randint(1, 2)), ("mug", 1), near=rng.choice(["nyc", "lax"]))
                codes.append(
                    allocate_until_answered(http, f"k{i}-{k}", {"order": wanted.model_dump(mode="json")}).status_code
                )
            return codes

    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = [c for per_client in pool.map(client, range(CLIENTS)) for c in per_client]
    assert len(codes) == 3 * CLIENTS
    assert set(codes) <= {201, 409}
    with served.client() as http:
        levels = {(r["node"], r["sku"]): r for r in http.get("/v1/stock").json()}
    assert sum(levels[(n, "tee")]["reserved"] for n in ("nyc", "chi")) == 8  # every tee held, none twice
    assert_ledger_consistent(served)


def test_killing_a_worker_mid_load_loses_no_hold_and_doubles_none(served: Served) -> None:
    """Clients retry a failed request with the same Idempotency-Key; afterwards every key has at most
    one allocation, every answered key's allocation is in the ledger, and the journal agrees."""
    with served.client() as http:
        for node in ("nyc", "chi", "lax"):
            http.post("/v1/stock/receipts", json={"node": node, "sku": "tee", "quantity": 100_000})
    killed: list[int] = []
    answered: dict[str, str] = {}
    lock = threading.Lock()
    stop = time.monotonic() + 8

    def client(i: int) -> int:
        rng = random.Random(i)
        done = 0
        with served.client(timeout=60) as http:
            while time.monotonic() < stop:
                key = f"k{i}-{done}"
                wanted = order(f"o{i}-{done}", ("tee", rng.randint(1, 3)), near=rng.choice(["nyc", "chi", "lax"]))
                response = allocate_until_answered(http, key, {"order": wanted.model_dump(mode="json")})
                assert response.status_code in (201, 409), response.text
                if response.status_code == 201:
                    with lock:
                        answered[key] = response.json()["id"]
                done += 1
        return done

    def killer() -> None:
        # A worker killed between requests (its clients' connections idle) interrupts nothing: kill
        # again, a worker at a time, until some request was cut off mid-flight.
        time.sleep(2)
        while not RETRIES and time.monotonic() < stop - 2 and len(killed) < 4:
            alive = [w for w in served.workers() if w not in killed]
            if alive:
                os.kill(alive[0], signal.SIGKILL)
                killed.append(alive[0])
            time.sleep(1.0)

    threading.Thread(target=killer).start()
    RETRIES.clear()
    with ThreadPoolExecutor(CLIENTS) as pool:
        total = sum(pool.map(client, range(CLIENTS)))
    assert killed
    assert not set(killed) & set(served.workers())
    assert RETRIES, "the kill interrupted no request: the test did not test a crash"
    assert total > CLIENTS
    engine = connect(served.dsn)
    with engine.connect() as conn:
        rows = conn.execute(select(schema.allocations.c.idempotency_key, schema.allocations.c.id)).all()
    engine.dispose()
    by_key = {key: allocation_id for key, allocation_id in rows if key is not None}
    assert len(by_key) == len([key for key, _ in rows if key is not None])  # no key allocated twice
    assert {key: by_key.get(key) for key in answered} == answered  # every answer is in the ledger
    assert_ledger_consistent(served)
