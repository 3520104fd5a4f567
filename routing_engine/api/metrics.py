"""Prometheus metrics of the service: request latency, allocations by outcome, solver time, oversell guard.

Served at GET /metrics. With several workers set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for
every worker) before starting them and /metrics sums all workers; without it each worker reports its own.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY
from sqlalchemy import func, select

from routing_engine.ledger import Ledger, schema
from routing_engine.ledger.db import reading

# Metric objects are process-wide, like the default registry they live in; defining them configures nothing.
REQUEST_SECONDS = Histogram(
    "routing_engine_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ALLOCATIONS = Counter(
    "routing_engine_allocations",
    "Allocation requests by kind (single, batch) and outcome: held, replayed (idempotent retry), "
    "conflict (409, stock kept changing) or rejected (other 4xx, nothing held).",
    ["kind", "outcome"],
)
SOLVE_SECONDS = Histogram(
    "routing_engine_solve_duration_seconds",
    "Time to compute one allocation (model building and solving), by kind (single, batch).",
    ["kind"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
GUARD_REJECTIONS = Counter(
    "routing_engine_oversell_guard_rejections",
    "Conditional hold updates that changed no row (stock taken since the snapshot); the allocation is retried.",
)


class PrometheusEvents:
    """The ledger's events (`LedgerEvents`) as metrics."""

    def solved(self, orders: int, seconds: float) -> None:
        SOLVE_SECONDS.labels("single" if orders == 1 else "batch").observe(seconds)

    def guard_rejected(self, node: str, sku: str) -> None:
        GUARD_REJECTIONS.inc()


def allocation_outcome(status: int, replayed: bool) -> str:
    if status < 300:
        return "replayed" if replayed else "held"
    return "conflict" if status == 409 else "rejected"


def _ledger_gauges(ledger: Ledger) -> str:
    """Gauges read from the database at scrape time, so they are right whatever the number of workers."""
    a, s = schema.allocations, schema.stock
    with reading(ledger.engine) as conn:
        held = conn.execute(select(func.count()).select_from(a).where(a.c.status == "held")).scalar_one()
        reserved = conn.execute(select(func.coalesce(func.sum(s.c.reserved), 0))).scalar_one()
    return (
        "# HELP routing_engine_held_allocations Allocations held now (not yet confirmed, released or expired).\n"
        "# TYPE routing_engine_held_allocations gauge\n"
        f"routing_engine_held_allocations {held}\n"
        "# HELP routing_engine_reserved_units Units of stock reserved now by held and confirmed allocations.\n"
        "# TYPE routing_engine_reserved_units gauge\n"
        f"routing_engine_reserved_units {reserved}\n"
    )


def exposition(ledger: Ledger | None) -> str:
    """The metrics in Prometheus text format: this process's (or all workers') and the ledger's gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        text = generate_latest(registry).decode()
    else:
        text = generate_latest(REGISTRY).decode()
    return text + (_ledger_gauges(ledger) if ledger is not None else "")
