"""Metrics and logs: /metrics counts requests, allocations, solves and oversell-guard rejections; every
request carries a request ID in its response and in one JSON log line."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from routing_engine.api.observe import JsonFormatter
from routing_engine.ledger import Ledger, holds
from routing_engine.ledger.testing import order
from routing_engine.model import Order


def sample(client: TestClient, name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 if absent: counters start when first used)."""
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def body(order_id: str, *lines: tuple[str, int]) -> dict[str, Any]:
    return {"order": order(order_id, *lines).model_dump(mode="json")}


def test_metrics_count_requests_by_route_allocations_by_outcome_and_solves_and_show_live_holds(
    client: TestClient,
) -> None:
    # The registry is process-wide (as in a served worker), so compare before and after.
    names = {
        "latency": (
            "routing_engine_http_request_duration_seconds_count",
            {"route": "/v1/allocations", "status": "201"},
        ),
        "not found": (
            "routing_engine_http_request_duration_seconds_count",
            {"route": "/v1/allocations/{allocation_id}", "status": "404"},
        ),
        "held": ("routing_engine_allocations_total", {"kind": "single", "outcome": "held"}),
        "replayed": ("routing_engine_allocations_total", {"kind": "single", "outcome": "replayed"}),
        "rejected": ("routing_engine_allocations_total", {"kind": "single", "outcome": "rejected"}),
        "solves": ("routing_engine_solve_duration_seconds_count", {"kind": "single"}),
    }
    before = {key: sample(client, name, **labels) for key, (name, labels) in names.items()}
    first = client.post("/v1/allocations", json=body("o1", ("tee", 2)), headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert (
        client.post("/v1/allocations", json=body("o1", ("tee", 2)), headers={"Idempotency-Key": "k1"}).status_code
        == 201
    )
    assert client.post("/v1/allocations", json=body("o2", ("sock", 1))).status_code == 422
    assert client.get("/v1/allocations/al_unknown").status_code == 404
    after = {key: sample(client, name, **labels) for key, (name, labels) in names.items()}
    assert {key: after[key] - before[key] for key in names} == {
        "latency": 2,  # the first allocation and its replay
        "not found": 1,
        "held": 1,
        "replayed": 1,
        "rejected": 1,
        "solves": 1,  # the replay and the rejected order were never solved
    }
    assert sample(client, "routing_engine_held_allocations") == 1
    assert sample(client, "routing_engine_reserved_units") == 2


def test_a_hold_that_loses_its_stock_between_solve_and_update_counts_as_an_oversell_guard_rejection(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rival takes a tee at nyc after o1 was solved on a snapshot with 5 there: o1's conditional update
    changes no row, is counted, and o1 is solved again on fresh stock (at most 4 at nyc, the rest from chi;
    how the 5 split is a tie, as shipping is priced per package)."""
    ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
    solve = holds._solve
    raced: list[bool] = []

    def solve_then_lose_a_tee(bind: Any, led: Ledger, orders: Sequence[Order], exclude: set[str]) -> Any:
        solved = solve(bind, led, orders, exclude)
        if not raced:
            raced.append(True)
            holds.allocate_and_hold(ledger, [order("rival", ("tee", 1))])
        return solved

    monkeypatch.setattr(holds, "_solve", solve_then_lose_a_tee)
    rejections = sample(client, "routing_engine_oversell_guard_rejections_total")
    response = client.post("/v1/allocations", json=body("o1", ("tee", 5)))
    assert response.status_code == 201
    held = dict(sorted((h["node"], h["quantity"]) for h in response.json()["holds"]))
    assert held.keys() == {"chi", "nyc"}
    assert sum(held.values()) == 5
    assert held["nyc"] <= 4
    assert sample(client, "routing_engine_oversell_guard_rejections_total") == rejections + 1


def test_an_allocation_that_loses_its_stock_on_every_attempt_is_a_409_counted_as_a_conflict_holding_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = client.app  # type: ignore[attr-defined]
    app.state.ledger = dataclasses.replace(app.state.ledger, hold_attempts=1)
    solve = holds._solve

    def solve_then_lose_a_tee(bind: Any, led: Ledger, orders: Sequence[Order], exclude: set[str]) -> Any:
        solved = solve(bind, led, orders, exclude)
        if orders[0].id == "o1":
            holds.allocate_and_hold(led, [order("rival", ("tee", 1))])
        return solved

    monkeypatch.setattr(holds, "_solve", solve_then_lose_a_tee)
    conflicts = sample(client, "routing_engine_allocations_total", kind="single", outcome="conflict")
    response = client.post("/v1/allocations", json=body("o1", ("tee", 5)))
    assert response.status_code == 409
    assert sample(client, "routing_engine_allocations_total", kind="single", outcome="conflict") == conflicts + 1
    assert sample(client, "routing_engine_reserved_units") == 1  # the rival's tee only


def test_a_request_id_sent_by_the_client_is_echoed_and_logged_in_one_json_line_with_status_and_duration(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="routing_engine.api.access")
    response = client.get("/v1/stock", headers={"X-Request-ID": "checkout-7f3a"})
    assert response.headers["X-Request-ID"] == "checkout-7f3a"
    (record,) = [r for r in caplog.records if r.name == "routing_engine.api.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "checkout-7f3a"
    assert (line["method"], line["path"], line["route"], line["status"]) == ("GET", "/v1/stock", "/v1/stock", 200)
    assert line["duration_ms"] >= 0
    assert line["api_key"].startswith("key_")  # which key made the request, never its token


def test_a_request_without_a_usable_request_id_gets_a_fresh_one_even_when_it_is_refused(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="routing_engine.api.access")
    client.headers.pop("Authorization")
    made = client.get("/v1/stock").headers["X-Request-ID"]
    replaced = client.get("/healthz", headers={"X-Request-ID": "no spaces or newlines\tallowed" * 10}).headers
    assert len(made) == 32
    assert len(replaced["X-Request-ID"]) == 32
    assert made != replaced["X-Request-ID"]
    logged = [getattr(r, "fields", {}) for r in caplog.records if r.name == "routing_engine.api.access"]
    assert [(f["request_id"], f["status"]) for f in logged] == [(made, 401), (replaced["X-Request-ID"], 200)]


def test_importing_the_api_configures_no_logging() -> None:
    import subprocess
    import sys

    code = (
        "import logging, routing_engine.api.main, routing_engine.ledger;"
        "assert not logging.getLogger('routing_engine').handlers and not logging.getLogger().handlers"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
