"""The KPIs a scenario comparison shows, and their deltas against the baseline.

Each metric knows how to read itself off a `RunOutcome`, how to print itself and which direction is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from routing_engine.scenarios.runner import RunOutcome

COST_PARTS = ("shipping", "handling", "split", "backorder", "duties", "unfilled")


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    value: Callable[[RunOutcome], float]
    fmt: str  # a format spec for the value
    higher_is_better: bool = False


def _cost(part: str) -> Callable[[RunOutcome], float]:
    return lambda o: float(getattr(o.cost, part))


METRICS: tuple[Metric, ...] = (
    Metric("cost_total", "cost: total", _cost("total"), ",.2f"),
    *(Metric(f"cost_{p}", f"cost: {p}", _cost(p), ",.2f") for p in COST_PARTS),
    Metric("packages_per_order", "packages / order", lambda o: o.kpis.packages_per_order, ".3f"),
    Metric("fill_rate", "fill rate (now + backordered)", lambda o: o.kpis.fill_rate, ".1%", higher_is_better=True),
    Metric("fill_rate_now", "fill rate now", lambda o: o.kpis.fill_rate_now, ".1%", higher_is_better=True),
    Metric("units_backordered", "units backordered", lambda o: float(o.kpis.units_backordered), ",.0f"),
    Metric("units_unfilled", "units unfilled", lambda o: float(o.kpis.units_unfilled), ",.0f"),
    Metric("mean_distance_km", "mean distance / unit (km)", lambda o: o.kpis.mean_distance_km, ",.0f"),
    Metric("cross_border_packages", "cross-border packages", lambda o: float(o.kpis.cross_border_packages), ",.0f"),
    Metric("orders", "orders", lambda o: float(o.kpis.orders), ",.0f", higher_is_better=True),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
#: The headline KPIs of the delta chart.
DELTA_KEYS = (
    "cost_total",
    "cost_shipping",
    "cost_duties",
    "packages_per_order",
    "fill_rate",
    "units_backordered",
    "mean_distance_km",
)


def delta(metric: Metric, run: RunOutcome, baseline: RunOutcome) -> tuple[float, float | None]:
    """Absolute change and relative change (None when the baseline value is 0)."""
    now, before = metric.value(run), metric.value(baseline)
    return now - before, ((now - before) / abs(before) if before else None)


def format_delta(metric: Metric, change: float, relative: float | None) -> str:
    if abs(change) < 1e-9:
        return "="
    if metric.fmt.endswith("%"):
        return f"{change * 100:+.1f} pt"
    if relative is None:
        return f"{change:+{metric.fmt}}"
    return f"{relative:+.1%}"
