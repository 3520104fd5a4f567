"""Worked examples: tiny problems whose optimal allocation and cost are computed by hand.

Geometry used throughout (unless a test says otherwise): every node and destination sits on the equator
(lat 0, country US), so distances are multiples of ~111.3 km per degree of longitude. The default rate
card has one weight band and four distance zones, with limits chosen far from every distance used:

    zone 1: d <= 30 km   -> 5        NEAR  at lon 0.0:   0.0 km from (0, 0)   -> zone 1 -> 5
    zone 2: d <= 150 km  -> 8        MID   at lon 1.0: 111.3 km from (0, 0)   -> zone 2 -> 8
    zone 3: d <= 300 km  -> 12       FAR   at lon 3.5: 389.6 km from (0, 0)   -> zone 4 -> 20
    zone 4: beyond       -> 20       (0, 0.5) is 55.7 km from NEAR (zone 2) and 334.0 km from FAR (zone 4)

`test_geometry_puts_every_node_in_the_zone_the_worked_examples_claim` checks these claims with
`geo.distance_km`. Default policy: no split cost, no backorder cost, unfilled penalty 100 per unit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from routing_engine import AllocateOptions, AllocationResult, Problem, allocate, geo
from routing_engine.examples import example_problem
from routing_engine.model import CostBreakdown, Destination, Package

AS_OF = dt.date(2025, 3, 3)
ZONE_LIMITS_KM = [30.0, 150.0, 300.0]
ZONE_PRICES = [[5.0], [8.0], [12.0], [20.0]]
LON = {"NEAR": 0.0, "MID": 1.0, "FAR": 3.5}
PARTS = ("shipping", "handling", "split", "backorder", "duties", "unfilled")


# ------------------------------------------------------------------------------------------ helpers


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(geo.distance_km(lat1, lon1, lat2, lon2))


def node(id: str, lon: float | None = None, *, lat: float = 0.0, country: str = "US", **kw: Any) -> dict[str, Any]:
    return {"id": id, "country": country, "lat": lat, "lon": LON[id] if lon is None else lon, **kw}


def stock(node: str, sku: str, on_hand: int, **kw: Any) -> dict[str, Any]:
    return {"node": node, "sku": sku, "on_hand": on_hand, **kw}


def line(id: str, sku: str, quantity: int = 1, unit_price: float = 10.0, **kw: Any) -> dict[str, Any]:
    return {"id": id, "sku": sku, "quantity": quantity, "unit_price": unit_price, **kw}


def order(
    id: str,
    *lines: dict[str, Any],
    lon: float = 0.0,
    lat: float = 0.0,
    country: str = "US",
    currency: str = "USD",
    **kw: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "currency": currency,
        "destination": {"country": country, "lat": lat, "lon": lon},
        "lines": list(lines),
        **kw,
    }


def inbound(id: str, node: str, sku: str, quantity: int, days: int) -> dict[str, Any]:
    return {
        "id": id,
        "node": node,
        "sku": sku,
        "quantity": quantity,
        "eta": (AS_OF + dt.timedelta(days=days)).isoformat(),
    }


def zoned_tariff(**kw: Any) -> dict[str, Any]:
    return {"currency": "USD", "zone_limits_km": ZONE_LIMITS_KM, "weight_limits_kg": [], "prices": ZONE_PRICES, **kw}


def flat_tariff(price: float = 5.0, **kw: Any) -> dict[str, Any]:
    return {"currency": "USD", "zone_limits_km": [], "weight_limits_kg": [], "prices": [[price]], **kw}


def make_problem(
    *,
    nodes: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    stock: list[dict[str, Any]] | None = None,
    skus: list[dict[str, Any]] | None = None,
    inbound: list[dict[str, Any]] | None = None,
    policy: dict[str, Any] | None = None,
    tariffs: dict[str, Any] | None = None,
    **kw: Any,
) -> Problem:
    return Problem.model_validate(
        {
            "as_of": AS_OF.isoformat(),
            "currency": "USD",
            "nodes": nodes,
            "skus": skus if skus is not None else [{"id": "A", "weight_kg": 1.0}, {"id": "B", "weight_kg": 1.0}],
            "stock": stock or [],
            "inbound": inbound or [],
            "orders": orders,
            "policy": {
                "split_cost": 0.0,
                "backorder_cost_per_unit_day": 0.0,
                "unfilled_penalty_per_unit": 100.0,
                **(policy or {}),
            },
            "tariffs": tariffs if tariffs is not None else {"default": zoned_tariff()},
            **kw,
        }
    )


def check_consistent(result: AllocationResult, as_of: dt.date = AS_OF) -> None:
    """The cost breakdown sums to its total, and the packages' costs add up to the order-level parts."""
    c = result.cost
    assert c.total == pytest.approx(sum(getattr(c, part) for part in PARTS))
    for part in ("shipping", "handling", "split", "backorder", "duties"):
        assert getattr(c, part) == pytest.approx(sum(getattr(p.cost, part) for p in result.packages)), part
    for p in result.packages:
        assert p.cost.total == pytest.approx(sum(getattr(p.cost, part) for part in PARTS))
        assert p.ship_date == as_of + dt.timedelta(days=p.wait_days)
        for pl in p.lines:
            assert pl.quantity == pl.from_stock + sum(u.quantity for u in pl.from_inbound)
    assert result.solver.objective == pytest.approx(c.total)
    assert result.kpis.units_unfilled == sum(u.quantity for u in result.unfilled)


def run(problem: Problem, solver: str = "mip") -> AllocationResult:
    result = allocate(problem, AllocateOptions(solver=solver, time_limit_s=10))
    check_consistent(result)
    if solver == "mip":
        assert result.solver.status == "optimal"
    return result


def shipments(result: AllocationResult) -> list[tuple[str, str, int, dict[str, int]]]:
    """(order, node, wait days, {line: units}) of every package, sorted."""
    return sorted((p.order, p.node, p.wait_days, {pl.line: pl.quantity for pl in p.lines}) for p in result.packages)


def unfilled(result: AllocationResult) -> list[tuple[str, str, int, str]]:
    """(order, line, units, reason) of every unfilled line, sorted."""
    return sorted((u.order, u.line, u.quantity, u.reason) for u in result.unfilled)


def assert_cost(cost: CostBreakdown, total: float, **parts: float) -> None:
    """Every named part equals its value, every other part is 0, and the total is as given."""
    assert set(parts) <= set(PARTS)
    for part in PARTS:
        assert getattr(cost, part) == pytest.approx(parts.get(part, 0.0), abs=1e-6), part
    assert cost.total == pytest.approx(total, abs=1e-6)


def package(result: AllocationResult, order: str, node: str) -> Package:
    (found,) = [p for p in result.packages if p.order == order and p.node == node]
    return found


#: Run a test on its problem as given (nothing at all can ship) and with a bystander order that ships.
BYSTANDER = pytest.mark.parametrize(
    "bystander", [pytest.param(False, id="alone"), pytest.param(True, id="with-bystander")]
)


def add_bystander(problem: Problem) -> Problem:
    """Add an unrelated order O-BY for SKU Z from node BY (at the destination, zone 1: 5), so something ships.

    BY holds only Z and O-BY wants only Z, so the rest of the problem is unaffected; it adds 5 of shipping.
    """
    p = problem.model_dump()
    p["nodes"].append(node("BY", 0.0))
    p["skus"].append({"id": "Z", "weight_kg": 1.0})
    p["stock"].append(stock("BY", "Z", 1))
    p["orders"].append(order("O-BY", line("L1", "Z")))
    return Problem.model_validate(p)


def run_maybe_with_bystander(problem: Problem, bystander: bool) -> tuple[AllocationResult, float]:
    """The result, minus the bystander's package, and the bystander's cost (5 or 0)."""
    if not bystander:
        return run(problem), 0.0
    r = run(add_bystander(problem))
    assert [(p.order, p.node) for p in r.packages if p.order == "O-BY"] == [("O-BY", "BY")]
    return r.model_copy(update={"packages": [p for p in r.packages if p.order != "O-BY"]}), 5.0


# ------------------------------------------------------------------------------------------ geometry


def test_geometry_puts_every_node_in_the_zone_the_worked_examples_claim() -> None:
    assert km(0, 0, 0, LON["NEAR"]) == 0.0
    assert 100 < km(0, 0, 0, LON["MID"]) < 120  # zone 2 (30, 150]
    assert 380 < km(0, 0, 0, LON["FAR"]) < 400  # zone 4 (> 300)
    assert 50 < km(0, 0.5, 0, LON["NEAR"]) < 60  # zone 2
    assert 320 < km(0, 0.5, 0, LON["FAR"]) < 340  # zone 4
    p = make_problem(
        nodes=[node("NEAR"), node("MID"), node("FAR")],
        stock=[stock(n, "A", 1) for n in ("NEAR", "MID", "FAR")],
        orders=[order(f"O-{n}", line("L1", "A")) for n in ("NEAR", "MID", "FAR")],
        policy={"max_packages_per_order": 1},
    )
    # Sanity of the rate card on single-node problems: each node's package is priced by its zone.
    for n, zone, price in (("NEAR", 1, 5.0), ("MID", 2, 8.0), ("FAR", 4, 20.0)):
        only = p.model_copy(
            update={
                "nodes": [x for x in p.nodes if x.id == n],
                "stock": [s for s in p.stock if s.node == n],
                "orders": [p.orders[0]],
            }
        )
        r = run(only)
        (pkg,) = r.packages
        assert (pkg.node, pkg.zone, pkg.cost.shipping) == (n, zone, price)


# ------------------------------------------------------------------------------ 1. split shipments


def _split_vs_far_problem(split_cost: float) -> Problem:
    # NEAR holds A only, MID holds B only, FAR holds both.
    return make_problem(
        nodes=[node("NEAR"), node("MID"), node("FAR")],
        stock=[stock("NEAR", "A", 1), stock("MID", "B", 1), stock("FAR", "A", 1), stock("FAR", "B", 1)],
        orders=[order("O1", line("L1", "A"), line("L2", "B"))],
        policy={"split_cost": split_cost},
    )


def test_without_split_cost_the_order_is_split_across_the_two_nearest_nodes() -> None:
    # NEAR A (zone 1: 5) + MID B (zone 2: 8) = 13  <  FAR A+B (zone 4: 20).
    r = run(_split_vs_far_problem(split_cost=0.0))
    assert shipments(r) == [("O1", "MID", 0, {"L2": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert_cost(r.cost, 13.0, shipping=13.0)
    assert r.kpis.split_orders == 1
    assert r.kpis.packages_per_order == 2.0


def test_split_cost_makes_the_two_package_order_dearer_than_one_package_from_a_farther_node() -> None:
    # Split: 5 + 8 + split 10 = 23.  One package from FAR: 20.  -> FAR, total 20.
    p = _split_vs_far_problem(split_cost=10.0)
    r = run(p)
    assert shipments(r) == [("O1", "FAR", 0, {"L1": 1, "L2": 1})]
    assert package(r, "O1", "FAR").zone == 4
    assert_cost(r.cost, 20.0, shipping=20.0)
    assert r.unfilled == []
    # The per-line "nearest" rule picks NEAR for A and MID for B and pays the split: 23 > 20.
    base = run(p, "nearest")
    assert shipments(base) == [("O1", "MID", 0, {"L2": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert_cost(base.cost, 23.0, shipping=13.0, split=10.0)
    assert base.cost.total > r.cost.total


def _split_vs_wait_problem(split_cost: float) -> Problem:
    # NEAR holds A now and receives PO-B (1 B) in 2 days; MID holds B now. Backorder 3 per unit-day.
    return make_problem(
        nodes=[node("NEAR"), node("MID")],
        stock=[stock("NEAR", "A", 1), stock("MID", "B", 1)],
        inbound=[inbound("PO-B", "NEAR", "B", 1, days=2)],
        orders=[order("O1", line("L1", "A"), line("L2", "B"))],
        policy={"split_cost": split_cost, "backorder_cost_per_unit_day": 3.0},
    )


def test_without_split_cost_the_order_splits_rather_than_waiting_for_inbound() -> None:
    # NEAR A now + MID B now: 5 + 8 = 13.
    # NEAR A+B waiting 2 days: 5 + 3 * 2 days * 2 units = 17.
    # NEAR A now + NEAR B in 2 days: 5 + 5 + 3 * 2 * 1 = 16.          -> split now, 13.
    r = run(_split_vs_wait_problem(split_cost=0.0))
    assert shipments(r) == [("O1", "MID", 0, {"L2": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert_cost(r.cost, 13.0, shipping=13.0)


def test_split_cost_makes_the_whole_order_wait_for_inbound_with_on_hand_units_held_back() -> None:
    # With split 10: split now 23, NEAR now + NEAR later 26, one NEAR package in 2 days 17. -> wait, 17.
    r = run(_split_vs_wait_problem(split_cost=10.0))
    assert shipments(r) == [("O1", "NEAR", 2, {"L1": 1, "L2": 1})]
    pkg = package(r, "O1", "NEAR")
    assert pkg.ship_date == AS_OF + dt.timedelta(days=2)
    lines = {pl.line: pl for pl in pkg.lines}
    assert (lines["L1"].from_stock, lines["L1"].from_inbound) == (1, [])  # held back to ship with L2
    assert lines["L2"].from_stock == 0
    assert [(u.inbound, u.quantity) for u in lines["L2"].from_inbound] == [("PO-B", 1)]
    assert_cost(r.cost, 17.0, shipping=5.0, backorder=12.0)
    assert (r.kpis.units_shipped_now, r.kpis.units_backordered) == (0, 2)


@pytest.mark.parametrize("limit_on", ["policy", "order"])
def test_one_package_per_order_forces_a_single_node_holding_everything(limit_on: str) -> None:
    # Split NEAR+MID would be 13 but is not allowed; FAR ships both in one package: 20.
    p = _split_vs_far_problem(split_cost=0.0)
    if limit_on == "policy":
        p = p.model_copy(update={"policy": p.policy.model_copy(update={"max_packages_per_order": 1})})
    else:
        p = p.model_copy(update={"orders": [p.orders[0].model_copy(update={"max_packages": 1})]})
    r = run(p)
    assert shipments(r) == [("O1", "FAR", 0, {"L1": 1, "L2": 1})]
    assert_cost(r.cost, 20.0, shipping=20.0)


def test_one_package_per_order_without_a_node_holding_everything_leaves_a_line_unfilled_for_policy() -> None:
    # NEAR A only, MID B only. NEAR A + B unfilled: 5 + 100 = 105 < MID B + A unfilled: 8 + 100 = 108.
    p = make_problem(
        nodes=[node("NEAR"), node("MID")],
        stock=[stock("NEAR", "A", 1), stock("MID", "B", 1)],
        orders=[order("O1", line("L1", "A"), line("L2", "B"))],
        policy={"max_packages_per_order": 1},
    )
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 0, {"L1": 1})]
    assert unfilled(r) == [("O1", "L2", 1, "policy")]
    assert_cost(r.cost, 105.0, shipping=5.0, unfilled=100.0)


def _ship_complete_problem(**order_kw: Any) -> Problem:
    # NEAR holds A and receives PO-B (1 B) in 3 days; MID holds B now. Backorder 2 per unit-day.
    return make_problem(
        nodes=[node("NEAR"), node("MID")],
        stock=[stock("NEAR", "A", 1), stock("MID", "B", 1)],
        inbound=[inbound("PO-B", "NEAR", "B", 1, days=3)],
        orders=[order("O1", line("L1", "A"), line("L2", "B"), **order_kw)],
        policy={"backorder_cost_per_unit_day": 2.0},
    )


def test_without_ship_complete_the_order_splits_now() -> None:
    # NEAR A + MID B now: 5 + 8 = 13  <  one NEAR package in 3 days: 5 + 2 * 3 * 2 = 17.
    r = run(_ship_complete_problem())
    assert shipments(r) == [("O1", "MID", 0, {"L2": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert_cost(r.cost, 13.0, shipping=13.0)


@pytest.mark.parametrize("where", ["policy", "order"])
def test_ship_complete_order_waits_for_inbound_as_a_whole_rather_than_splitting(where: str) -> None:
    # Only one package from one node: NEAR in 3 days, A held back: 5 + 2 per unit-day * 3 days * 2 units = 17.
    p = _ship_complete_problem(ship_complete=True) if where == "order" else _ship_complete_problem()
    if where == "policy":
        p = p.model_copy(update={"policy": p.policy.model_copy(update={"ship_complete": True})})
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 3, {"L1": 1, "L2": 1})]
    lines = {pl.line: pl for pl in r.packages[0].lines}
    assert lines["L1"].from_stock == 1
    assert [(u.inbound, u.quantity) for u in lines["L2"].from_inbound] == [("PO-B", 1)]
    assert_cost(r.cost, 17.0, shipping=5.0, backorder=12.0)


def _unsplittable_problem(*, splittable: bool, far: bool) -> Problem:
    # Line L1 wants 2 A; NEAR and MID hold 1 each, FAR (optionally) 2.
    nodes = [node("NEAR"), node("MID")] + ([node("FAR")] if far else [])
    return make_problem(
        nodes=nodes,
        stock=[stock("NEAR", "A", 1), stock("MID", "A", 1)] + ([stock("FAR", "A", 2)] if far else []),
        orders=[order("O1", line("L1", "A", 2, splittable=splittable))],
    )


def test_splittable_line_is_split_across_the_two_near_nodes() -> None:
    # NEAR 1 + MID 1: 5 + 8 = 13  <  FAR 2: 20.
    r = run(_unsplittable_problem(splittable=True, far=True))
    assert shipments(r) == [("O1", "MID", 0, {"L1": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert_cost(r.cost, 13.0, shipping=13.0)


def test_unsplittable_line_ships_whole_from_one_node_even_if_farther() -> None:
    # Whole line in one package: only FAR holds 2 -> 20.
    r = run(_unsplittable_problem(splittable=False, far=True))
    assert shipments(r) == [("O1", "FAR", 0, {"L1": 2})]
    assert_cost(r.cost, 20.0, shipping=20.0)


def test_unsplittable_line_that_no_single_node_can_cover_is_unfilled_for_policy() -> None:
    # Not split 1 + 1, not shipped partly: both units unfilled, 2 * 100 = 200.
    r = run(_unsplittable_problem(splittable=False, far=False))
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 2, "policy")]
    assert_cost(r.cost, 200.0, unfilled=200.0)


def _partial_problem(allow_partial: bool) -> Problem:
    # NEAR holds A; nobody holds B.
    return make_problem(
        nodes=[node("NEAR")],
        stock=[stock("NEAR", "A", 1)],
        orders=[order("O1", line("L1", "A"), line("L2", "B"))],
        policy={"allow_partial": allow_partial},
    )


def test_partial_orders_ship_what_is_in_stock() -> None:
    # A ships (5), B unfilled (100): 105.
    r = run(_partial_problem(allow_partial=True))
    assert shipments(r) == [("O1", "NEAR", 0, {"L1": 1})]
    assert unfilled(r) == [("O1", "L2", 1, "no_stock")]
    assert_cost(r.cost, 105.0, shipping=5.0, unfilled=100.0)


def test_allow_partial_false_serves_an_order_all_or_nothing() -> None:
    # B cannot be served, so nothing is: 2 units unfilled, 200. A is held back by policy, B has no stock.
    r = run(_partial_problem(allow_partial=False))
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 1, "policy"), ("O1", "L2", 1, "no_stock")]
    assert_cost(r.cost, 200.0, unfilled=200.0)
    assert r.kpis.fill_rate == 0.0


# ------------------------------------------------------------------------------------- 2. proximity


def test_nearer_node_wins_through_the_zone_price() -> None:
    # FAR (listed first) is zone 4: 20; MID is zone 2: 8. -> MID, 8.
    p = make_problem(
        nodes=[node("FAR"), node("MID")],
        stock=[stock("FAR", "A", 5), stock("MID", "A", 5)],
        orders=[order("O1", line("L1", "A"))],
    )
    r = run(p)
    assert shipments(r) == [("O1", "MID", 0, {"L1": 1})]
    assert package(r, "O1", "MID").zone == 2
    assert package(r, "O1", "MID").distance_km == pytest.approx(km(0, 0, 0, 1), abs=1e-3)
    assert_cost(r.cost, 8.0, shipping=8.0)
    # The "ranked" baseline takes nodes in listed order: FAR, 20 > 8.
    base = run(p, "ranked")
    assert shipments(base) == [("O1", "FAR", 0, {"L1": 1})]
    assert_cost(base.cost, 20.0, shipping=20.0)


def _weight_band_problem(split_cost: float) -> Problem:
    # Two 3 kg SKUs. One zone; weight bands: <= 5 kg costs 5, heavier costs 30.
    # NEAR holds H1 and H2, MID holds H2.
    return make_problem(
        nodes=[node("NEAR"), node("MID")],
        skus=[{"id": "H1", "weight_kg": 3.0}, {"id": "H2", "weight_kg": 3.0}],
        stock=[stock("NEAR", "H1", 1), stock("NEAR", "H2", 1), stock("MID", "H2", 1)],
        orders=[order("O1", line("L1", "H1"), line("L2", "H2"))],
        tariffs={
            "default": {"currency": "USD", "zone_limits_km": [], "weight_limits_kg": [5.0], "prices": [[5.0, 30.0]]}
        },
        policy={"split_cost": split_cost},
    )


def test_weight_band_makes_two_light_packages_cheaper_than_one_heavy_package() -> None:
    # One package of 6 kg: 30.  NEAR H1 (3 kg: 5) + MID H2 (3 kg: 5) = 10. -> two packages, 10.
    p = _weight_band_problem(split_cost=0.0)
    r = run(p)
    assert shipments(r) == [("O1", "MID", 0, {"L2": 1}), ("O1", "NEAR", 0, {"L1": 1})]
    assert [pk.weight_kg for pk in r.packages] == [3.0, 3.0]
    assert_cost(r.cost, 10.0, shipping=10.0)
    # shopify-default prefers the fewest packages: one 6 kg package from NEAR, 30 > 10.
    base = run(p, "shopify-default")
    assert shipments(base) == [("O1", "NEAR", 0, {"L1": 1, "L2": 1})]
    assert_cost(base.cost, 30.0, shipping=30.0)


def test_weight_band_with_high_split_cost_keeps_the_heavy_package_whole() -> None:
    # Two light packages: 5 + 5 + split 25 = 35  >  one 6 kg package: 30. -> one package, 30.
    r = run(_weight_band_problem(split_cost=25.0))
    assert shipments(r) == [("O1", "NEAR", 0, {"L1": 1, "L2": 1})]
    assert r.packages[0].weight_kg == 6.0
    assert_cost(r.cost, 30.0, shipping=30.0)


def test_linear_per_package_km_term_prices_by_exact_distance() -> None:
    # One zone, rate card 2, plus 0.05 per package-km. MID: 2 + 0.05 * 111.32 = 7.57; FAR: 2 + 0.05 * 389.6 = 21.48.
    p = make_problem(
        nodes=[node("FAR"), node("MID")],
        stock=[stock("FAR", "A", 1), stock("MID", "A", 1)],
        orders=[order("O1", line("L1", "A"))],
        tariffs={"default": flat_tariff(2.0, per_package_km=0.05)},
    )
    d_mid, d_far = km(0, 0, 0, 1), km(0, 0, 0, 3.5)
    r = run(p)
    assert shipments(r) == [("O1", "MID", 0, {"L1": 1})]
    assert_cost(r.cost, 2 + 0.05 * d_mid, shipping=2 + 0.05 * d_mid)
    assert r.cost.total == pytest.approx(7.566, abs=1e-3)
    base = run(p, "ranked")
    assert_cost(base.cost, 2 + 0.05 * d_far, shipping=2 + 0.05 * d_far)


def test_every_tariff_term_and_handling_are_priced_and_converted_per_the_contract() -> None:
    # Tariff in CAD (0.75 USD): zones <= 30, <= 300, beyond; bands <= 2 kg, <= 10 kg, beyond.
    # MID is 111.32 km away (zone 2). 2 units of a 1.5 kg SKU weigh 3 kg (band 2) -> card price 10.
    # CAD: 10 + per_package 1 + 0.01 d + 2 * (0.5 + 0.002 d + 0.3 * 1.5 + 0.001 * 1.5 * d)
    #    = 12.9 + 0.017 d = 12.9 + 1.8924 = 14.7924 CAD  -> * 0.75 = 11.0943 USD.
    # Handling in EUR (1.1 USD): (2 per package + 0.5 * 2 units) * 1.1 = 3.3 USD.
    d = km(0, 0, 0, 1)
    p = make_problem(
        nodes=[node("MID", currency="EUR", handling_per_package=2.0, handling_per_unit=0.5, tariff="cad")],
        skus=[{"id": "S", "weight_kg": 1.5}],
        stock=[stock("MID", "S", 5)],
        orders=[order("O1", line("L1", "S", 2))],
        tariffs={
            "cad": {
                "currency": "CAD",
                "zone_limits_km": [30.0, 300.0],
                "weight_limits_kg": [2.0, 10.0],
                "prices": [[4.0, 6.0, 9.0], [7.0, 10.0, 15.0], [12.0, 18.0, 25.0]],
                "per_package": 1.0,
                "per_package_km": 0.01,
                "per_unit": 0.5,
                "per_unit_km": 0.002,
                "per_kg": 0.3,
                "per_kg_km": 0.001,
            }
        },
        fx={"CAD": 0.75, "EUR": 1.1},
    )
    r = run(p)
    (pkg,) = r.packages
    assert (pkg.zone, pkg.weight_kg) == (2, 3.0)
    shipping = 0.75 * (12.9 + 0.017 * d)
    assert shipping == pytest.approx(11.0943, abs=1e-4)
    assert_cost(pkg.cost, shipping + 3.3, shipping=shipping, handling=3.3)
    assert_cost(r.cost, shipping + 3.3, shipping=shipping, handling=3.3)


def test_destinations_given_as_us_postal_code_and_canadian_city_resolve_and_allocate() -> None:
    # Real coordinates. Zones: <= 100 km -> 5, <= 1000 km -> 10, beyond -> 20. Nodes serve their own country.
    # '10001' (Manhattan) -> Newark NJ ~15 km (5) vs Los Angeles ~3900 km (20): NJ, 5.
    # 'Toronto' -> Montreal ~500 km (10) vs Vancouver ~3350 km (20): MTL, 10.        Total 15.
    where = {
        "NJ": (40.7357, -74.1724, "US"),
        "LA": (34.0522, -118.2437, "US"),
        "MTL": (45.5017, -73.5673, "CA"),
        "VAN": (49.2827, -123.1207, "CA"),
    }
    nyc = geo.resolve(Destination(country="US", postal_code="10001"), "test")
    tor = geo.resolve(Destination(country="CA", city="Toronto"), "test")
    d = {n: km(*(nyc if c == "US" else tor), lat, lon) for n, (lat, lon, c) in where.items()}
    assert d["NJ"] < 50
    assert d["LA"] > 1000
    assert 300 < d["MTL"] < 800
    assert d["VAN"] > 1000
    p = make_problem(
        nodes=[node(n, lon, lat=lat, country=c) for n, (lat, lon, c) in where.items()],
        stock=[stock(n, "A", 3) for n in where],
        orders=[
            {
                "id": "O-NYC",
                "currency": "USD",
                "destination": {"country": "US", "postal_code": "10001"},
                "lines": [line("L1", "A")],
            },
            {
                "id": "O-TOR",
                "currency": "USD",
                "destination": {"country": "CA", "city": "Toronto"},
                "lines": [line("L1", "A")],
            },
        ],
        tariffs={
            "default": {
                "currency": "USD",
                "zone_limits_km": [100.0, 1000.0],
                "weight_limits_kg": [],
                "prices": [[5.0], [10.0], [20.0]],
            }
        },
    )
    r = run(p)
    assert shipments(r) == [("O-NYC", "NJ", 0, {"L1": 1}), ("O-TOR", "MTL", 0, {"L1": 1})]
    assert package(r, "O-NYC", "NJ").distance_km == pytest.approx(d["NJ"], abs=1e-3)
    assert package(r, "O-TOR", "MTL").distance_km == pytest.approx(d["MTL"], abs=1e-3)
    assert (package(r, "O-NYC", "NJ").zone, package(r, "O-TOR", "MTL").zone) == (1, 2)
    assert not any(pk.cross_border for pk in r.packages)
    assert_cost(r.cost, 15.0, shipping=15.0)


# ------------------------------------------------------------------------------------- 3. backorders


def _backorder_problem(*, far: bool = True, **policy: Any) -> Problem:
    # NEAR has no stock but receives PO-7 (5 A) in 4 days; FAR holds 5 A now. Backorder 0.5 per unit-day.
    return make_problem(
        nodes=[node("NEAR")] + ([node("FAR")] if far else []),
        stock=[stock("FAR", "A", 5)] if far else [],
        inbound=[inbound("PO-7", "NEAR", "A", 5, days=4)],
        orders=[order("O1", line("L1", "A", 2))],
        policy={"backorder_cost_per_unit_day": 0.5, **policy},
    )


def test_units_are_backordered_against_a_named_inbound_when_waiting_is_cheaper_than_a_far_node() -> None:
    # Wait for PO-7 at NEAR: 5 + 0.5 * 4 days * 2 units = 9  <  FAR now: 20.
    p = _backorder_problem()
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 4, {"L1": 2})]
    (pkg,) = r.packages
    assert pkg.ship_date == AS_OF + dt.timedelta(days=4)
    (pl,) = pkg.lines
    assert pl.from_stock == 0
    assert [(u.inbound, u.quantity) for u in pl.from_inbound] == [("PO-7", 2)]
    assert_cost(r.cost, 9.0, shipping=5.0, backorder=4.0)
    kpis = r.kpis
    assert (kpis.units_shipped_now, kpis.units_backordered, kpis.fill_rate, kpis.fill_rate_now) == (0, 2, 1.0, 0.0)
    # "nearest" ships now whenever it can: FAR, 20 > 9.
    base = run(p, "nearest")
    assert shipments(base) == [("O1", "FAR", 0, {"L1": 2})]
    assert_cost(base.cost, 20.0, shipping=20.0)


def test_overdue_inbound_counts_as_arriving_tomorrow() -> None:
    # ETA 3 days before as_of -> wait max(1, -3) = 1: 5 + 0.5 * 1 * 2 = 6.
    p = _backorder_problem(far=False)
    p = p.model_copy(update={"inbound": [p.inbound[0].model_copy(update={"eta": AS_OF - dt.timedelta(days=3)})]})
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 1, {"L1": 2})]
    assert_cost(r.cost, 6.0, shipping=5.0, backorder=1.0)


@BYSTANDER
def test_backorders_disabled_leaves_the_line_unfilled_for_no_stock(bystander: bool) -> None:
    # Inbound may not be promised: 2 units unfilled, 200 (+ 5 shipping for the bystander, if any).
    r, extra = run_maybe_with_bystander(_backorder_problem(far=False, backorders=False), bystander)
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 2, "no_stock")]
    assert_cost(r.cost, 200.0 + extra, shipping=extra, unfilled=200.0)


@BYSTANDER
def test_inbound_beyond_max_backorder_days_is_not_promised(bystander: bool) -> None:
    # PO-7 arrives in 4 days, the policy allows 3: unfilled, 200 (+ 5 for the bystander).
    r, extra = run_maybe_with_bystander(_backorder_problem(far=False, max_backorder_days=3), bystander)
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 2, "no_stock")]
    assert_cost(r.cost, 200.0 + extra, shipping=extra, unfilled=200.0)


def test_unfilled_penalty_below_the_shipping_cost_leaves_the_line_unfilled_as_uneconomic() -> None:
    # Shipping 1 unit from NEAR costs 5; leaving it costs 3. -> unfilled, 3.
    p = make_problem(
        nodes=[node("NEAR")],
        stock=[stock("NEAR", "A", 5)],
        orders=[order("O1", line("L1", "A"))],
        policy={"unfilled_penalty_per_unit": 3.0},
    )
    r = run(p)
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 1, "uneconomic")]
    assert_cost(r.cost, 3.0, unfilled=3.0)


@BYSTANDER
def test_no_stock_and_no_inbound_anywhere_leaves_the_line_unfilled_for_no_stock(bystander: bool) -> None:
    # 3 units unfilled: 300 (+ 5 for the bystander).
    p = make_problem(
        nodes=[node("NEAR"), node("FAR")], stock=[stock("NEAR", "B", 5)], orders=[order("O1", line("L1", "A", 3))]
    )
    r, extra = run_maybe_with_bystander(p, bystander)
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 3, "no_stock")]
    assert_cost(r.cost, 300.0 + extra, shipping=extra, unfilled=300.0)
    assert r.kpis.units_unfilled == 3


# ----------------------------------------------------------------------------------- 4. cross-border


def _cross_border_node(id: str, lon: float, **kw: Any) -> dict[str, Any]:
    return node(id, lon, country="US", ships_to=["US", "CA"], **kw)


def test_restricted_sku_is_never_shipped_to_that_country_and_is_unfilled_as_restricted() -> None:
    # R is restricted in CA. Flat tariff 5. US1 holds R and A; CA1 (domestic to CA) holds R.
    # O-CA: A ships from US1 (5), R unfilled restricted (100). O-US: R from US1 (5). Total 110.
    p = make_problem(
        nodes=[_cross_border_node("US1", 0.0), node("CA1", 0.0, country="CA")],
        skus=[{"id": "R", "weight_kg": 1.0, "restricted_countries": ["CA"]}, {"id": "A", "weight_kg": 1.0}],
        stock=[stock("US1", "R", 5), stock("US1", "A", 5), stock("CA1", "R", 5)],
        orders=[order("O-CA", line("L1", "R"), line("L2", "A"), country="CA"), order("O-US", line("L1", "R"))],
        tariffs={"default": flat_tariff(5.0)},
    )
    for solver in ("mip", "nearest", "shopify-default"):
        r = run(p, solver)
        assert shipments(r) == [("O-CA", "US1", 0, {"L2": 1}), ("O-US", "US1", 0, {"L1": 1})], solver
        assert unfilled(r) == [("O-CA", "L1", 1, "restricted")], solver
        assert_cost(r.cost, 110.0, shipping=10.0, unfilled=100.0)
    assert package(r, "O-CA", "US1").cross_border
    assert not package(r, "O-US", "US1").cross_border


def test_node_without_ships_to_serves_only_its_own_country() -> None:
    # US-NEAR (ships_to None: US only) sits at the CA destination (5); CA-FAR is zone 4 (20). -> CA-FAR, 20.
    # The same node with ships_to [US, CA] wins at 5.
    p = make_problem(
        nodes=[node("US-NEAR", 0.0, country="US"), node("CA-FAR", 3.5, country="CA")],
        stock=[stock("US-NEAR", "A", 5), stock("CA-FAR", "A", 5)],
        orders=[order("O1", line("L1", "A"), country="CA")],
    )
    r = run(p)
    assert shipments(r) == [("O1", "CA-FAR", 0, {"L1": 1})]
    assert_cost(r.cost, 20.0, shipping=20.0)
    opened = p.model_copy(update={"nodes": [p.nodes[0].model_copy(update={"ships_to": ["US", "CA"]}), p.nodes[1]]})
    r = run(opened)
    assert shipments(r) == [("O1", "US-NEAR", 0, {"L1": 1})]
    assert r.packages[0].cross_border
    assert_cost(r.cost, 5.0, shipping=5.0)


def _de_minimis_problem(split_cost: float) -> Problem:
    # CA import rule in USD: de minimis 150, duty 20 %, clearance fee 10. Flat tariff 5.
    # US1 holds A and B, US2 holds B. The order to CA: A and B at 100 each.
    return make_problem(
        nodes=[_cross_border_node("US1", 0.0), _cross_border_node("US2", 1.0)],
        stock=[stock("US1", "A", 1), stock("US1", "B", 1), stock("US2", "B", 1)],
        orders=[order("O1", line("L1", "A", unit_price=100.0), line("L2", "B", unit_price=100.0), country="CA")],
        tariffs={"default": flat_tariff(5.0)},
        countries={"CA": {"currency": "USD", "de_minimis": 150.0, "duty_rate": 0.2, "clearance_fee": 10.0}},
        policy={"split_cost": split_cost},
    )


def test_splitting_a_consignment_below_the_de_minimis_is_cheaper_than_one_dutiable_package() -> None:
    # One package worth 200 > 150: 5 + 0.2 * 200 + 10 = 55.
    # Two packages worth 100 each (<= 150, duty-free): 5 + 5 + split 10 = 20.   -> split, 20.
    p = _de_minimis_problem(split_cost=10.0)
    r = run(p)
    assert shipments(r) == [("O1", "US1", 0, {"L1": 1}), ("O1", "US2", 0, {"L2": 1})]
    assert all(pk.cross_border and not pk.dutiable and pk.value == 100.0 for pk in r.packages)
    assert_cost(r.cost, 20.0, shipping=10.0, split=10.0, duties=0.0)
    assert r.kpis.cross_border_packages == 2
    # shopify-default ships one package when it can: 55 > 20.
    base = run(p, "shopify-default")
    assert shipments(base) == [("O1", "US1", 0, {"L1": 1, "L2": 1})]
    assert_cost(base.cost, 55.0, shipping=5.0, duties=50.0)


def test_with_a_high_split_cost_one_dutiable_package_beats_splitting_under_the_de_minimis() -> None:
    # Two packages: 5 + 5 + split 60 = 70  >  one package: 5 + 0.2 * 200 + 10 = 55. -> one package, 55.
    r = run(_de_minimis_problem(split_cost=60.0))
    assert shipments(r) == [("O1", "US1", 0, {"L1": 1, "L2": 1})]
    (pkg,) = r.packages
    assert (pkg.value, pkg.dutiable) == (200.0, True)
    assert_cost(r.cost, 55.0, shipping=5.0, duties=50.0)
    assert r.kpis.duties == pytest.approx(50.0)


def test_de_minimis_in_another_currency_is_compared_after_fx_conversion() -> None:
    # CA rule in CAD (1 CAD = 0.75 USD): de minimis 150 CAD, duty 10 %, clearance 20 CAD. Flat tariff 5.
    # O-USD: 120 USD = 160 CAD > 150 -> duty (0.1 * 160 + 20) CAD = 36 CAD = 27 USD.
    #        (Without conversion 120 <= 150 would wrongly be duty-free.)
    # O-EUR: 100 EUR = 108 USD = 144 CAD <= 150 -> duty-free.
    # Total: 5 + 27 + 5 = 37.
    p = make_problem(
        nodes=[_cross_border_node("US1", 0.0)],
        stock=[stock("US1", "A", 5)],
        orders=[
            order("O-USD", line("L1", "A", unit_price=120.0), country="CA"),
            order("O-EUR", line("L1", "A", unit_price=100.0), country="CA", currency="EUR"),
        ],
        tariffs={"default": flat_tariff(5.0)},
        countries={"CA": {"currency": "CAD", "de_minimis": 150.0, "duty_rate": 0.1, "clearance_fee": 20.0}},
        fx={"CAD": 0.75, "EUR": 1.08},
    )
    r = run(p)
    usd, eur = package(r, "O-USD", "US1"), package(r, "O-EUR", "US1")
    assert (usd.value, usd.dutiable) == (pytest.approx(160.0), True)
    assert (eur.value, eur.dutiable) == (pytest.approx(144.0), False)
    assert_cost(usd.cost, 32.0, shipping=5.0, duties=27.0)
    assert_cost(eur.cost, 5.0, shipping=5.0)
    assert_cost(r.cost, 37.0, shipping=10.0, duties=27.0)


def test_duties_make_a_farther_domestic_node_cheaper_than_a_near_cross_border_one() -> None:
    # Same dutiable O-USD order (160 CAD). Zoned tariff. US1 at the destination: 5 + 27 duty = 32.
    # CA-FAR (domestic, no duty) in zone 4: 20.  -> CA-FAR, 20.
    p = make_problem(
        nodes=[_cross_border_node("US1", 0.0), node("CA-FAR", 3.5, country="CA")],
        stock=[stock("US1", "A", 5), stock("CA-FAR", "A", 5)],
        orders=[order("O-USD", line("L1", "A", unit_price=120.0), country="CA")],
        countries={"CA": {"currency": "CAD", "de_minimis": 150.0, "duty_rate": 0.1, "clearance_fee": 20.0}},
        fx={"CAD": 0.75},
    )
    r = run(p)
    assert shipments(r) == [("O-USD", "CA-FAR", 0, {"L1": 1})]
    assert not r.packages[0].cross_border
    assert_cost(r.cost, 20.0, shipping=20.0)
    base = run(p, "nearest")
    assert shipments(base) == [("O-USD", "US1", 0, {"L1": 1})]
    assert_cost(base.cost, 32.0, shipping=5.0, duties=27.0)


# ------------------------------------------------------------------------------------- 5. live stock


def test_reserved_and_safety_stock_reduce_what_can_ship() -> None:
    # On hand 5 - reserved 2 - safety 2 = 1 available. Order of 3: ship 1 (5), 2 unfilled (200) = 205.
    p = make_problem(
        nodes=[node("NEAR")],
        stock=[stock("NEAR", "A", 5, reserved=2, safety_stock=2)],
        orders=[order("O1", line("L1", "A", 3))],
    )
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 0, {"L1": 1})]
    assert unfilled(r) == [("O1", "L1", 2, "no_stock")]
    assert_cost(r.cost, 205.0, shipping=5.0, unfilled=200.0)


def _buffer_problem(orders: list[dict[str, Any]], far: bool = False) -> Problem:
    # NEAR has 4 A, of which 3 are withheld from the marketplace channel.
    return make_problem(
        nodes=[node("NEAR")] + ([node("FAR")] if far else []),
        stock=[stock("NEAR", "A", 4, channel_buffers={"marketplace": 3})] + ([stock("FAR", "A", 10)] if far else []),
        orders=orders,
    )


def test_channel_buffer_withholds_units_from_the_marketplace_channel() -> None:
    # Marketplace sees 4 - 3 = 1 unit: ships 1 (5), 1 unfilled (100) = 105.
    r = run(_buffer_problem([order("O-M", line("L1", "A", 2), channel="marketplace")]))
    assert shipments(r) == [("O-M", "NEAR", 0, {"L1": 1})]
    assert unfilled(r) == [("O-M", "L1", 1, "no_stock")]
    assert_cost(r.cost, 105.0, shipping=5.0, unfilled=100.0)


def test_channel_buffer_does_not_withhold_units_from_the_web_channel() -> None:
    # Web sees all 4 units: one package of 4, 5.
    r = run(_buffer_problem([order("O-W", line("L1", "A", 4))]))
    assert shipments(r) == [("O-W", "NEAR", 0, {"L1": 4})]
    assert_cost(r.cost, 5.0, shipping=5.0)


def test_channel_buffer_sends_the_marketplace_order_to_the_far_node_and_web_to_the_near_one() -> None:
    # Web 2 + marketplace 2, NEAR 4 (marketplace at most 1), FAR 10.
    # Web NEAR (5) + marketplace FAR (20) = 25; marketplace 1 NEAR + 1 FAR with web NEAR costs 5 + 5 + 20 = 30.
    r = run(
        _buffer_problem(
            [order("O-M", line("L1", "A", 2), channel="marketplace"), order("O-W", line("L1", "A", 2))], far=True
        )
    )
    assert shipments(r) == [("O-M", "FAR", 0, {"L1": 2}), ("O-W", "NEAR", 0, {"L1": 2})]
    assert_cost(r.cost, 25.0, shipping=25.0)


# ---------------------------------------------------------------------------------- 6. node capacity


def test_node_max_packages_sends_the_second_order_to_the_next_best_node() -> None:
    # NEAR ships at most 1 package. O-OFF at lon 0.5: NEAR 55.7 km (8), FAR 334 km (20); O-CTR at lon 0: NEAR 5, FAR 20.
    # O-CTR NEAR + O-OFF FAR = 5 + 20 = 25  <  O-OFF NEAR + O-CTR FAR = 8 + 20 = 28.  -> 25.
    p = make_problem(
        nodes=[node("NEAR", max_packages=1), node("FAR")],
        stock=[stock("NEAR", "A", 5), stock("FAR", "A", 5)],
        orders=[order("O-OFF", line("L1", "A"), lon=0.5), order("O-CTR", line("L1", "A"))],
    )
    r = run(p)
    assert shipments(r) == [("O-CTR", "NEAR", 0, {"L1": 1}), ("O-OFF", "FAR", 0, {"L1": 1})]
    assert_cost(r.cost, 25.0, shipping=25.0)
    # Order by order, "nearest" gives NEAR to O-OFF (listed first) and pays 8 + 20 = 28.
    base = run(p, "nearest")
    assert shipments(base) == [("O-CTR", "FAR", 0, {"L1": 1}), ("O-OFF", "NEAR", 0, {"L1": 1})]
    assert_cost(base.cost, 28.0, shipping=28.0)


def test_node_max_packages_with_nowhere_else_to_ship_leaves_an_order_unfilled_for_capacity() -> None:
    # One package from NEAR: O-2 (2 units) ships (5), O-1 (1 unit) unfilled (100). 105.
    p = make_problem(
        nodes=[node("NEAR", max_packages=1)],
        stock=[stock("NEAR", "A", 5)],
        orders=[order("O-1", line("L1", "A", 1)), order("O-2", line("L1", "A", 2))],
    )
    r = run(p)
    assert shipments(r) == [("O-2", "NEAR", 0, {"L1": 2})]
    assert unfilled(r) == [("O-1", "L1", 1, "capacity")]
    assert_cost(r.cost, 105.0, shipping=5.0, unfilled=100.0)


def test_node_max_units_limits_what_ships_now_and_the_rest_is_unfilled_for_capacity() -> None:
    # NEAR ships at most 2 units: 2 ship (5), 1 unfilled (100). 105.
    p = make_problem(
        nodes=[node("NEAR", max_units=2)], stock=[stock("NEAR", "A", 5)], orders=[order("O1", line("L1", "A", 3))]
    )
    r = run(p)
    assert shipments(r) == [("O1", "NEAR", 0, {"L1": 2})]
    assert unfilled(r) == [("O1", "L1", 1, "capacity")]
    assert_cost(r.cost, 105.0, shipping=5.0, unfilled=100.0)


# ---------------------------------------------------------------------------------------- 7. pickup


def test_pickup_order_is_served_from_its_store_without_shipping_cost_even_if_a_warehouse_is_nearer() -> None:
    # STORE at lon 3.5 (would be zone 4 if shipped); NEAR warehouse at the destination (5).
    # Pickup: only STORE, no shipping, distance 0, handling 1.5 per package. Total 1.5.
    p = make_problem(
        nodes=[node("NEAR"), node("STORE", 3.5, kind="store", pickup=True, handling_per_package=1.5)],
        stock=[stock("NEAR", "A", 5), stock("STORE", "A", 5)],
        orders=[order("O1", line("L1", "A"), pickup_node="STORE")],
    )
    for solver in ("mip", "nearest"):
        r = run(p, solver)
        assert shipments(r) == [("O1", "STORE", 0, {"L1": 1})]
        (pkg,) = r.packages
        assert (pkg.distance_km, pkg.zone, pkg.cross_border) == (0.0, None, False)
        assert_cost(r.cost, 1.5, handling=1.5)


@BYSTANDER
def test_pickup_order_whose_store_has_no_stock_is_unfilled_not_shipped_from_a_warehouse(bystander: bool) -> None:
    # NEAR has A but a pickup is served from its store only: 1 unit unfilled, 100 (+ 5 for the bystander).
    p = make_problem(
        nodes=[node("NEAR"), node("STORE", 3.5, kind="store", pickup=True)],
        stock=[stock("NEAR", "A", 5)],
        orders=[order("O1", line("L1", "A"), pickup_node="STORE")],
    )
    r, extra = run_maybe_with_bystander(p, bystander)
    assert r.packages == []
    assert unfilled(r) == [("O1", "L1", 1, "no_stock")]
    assert_cost(r.cost, 100.0 + extra, shipping=extra, unfilled=100.0)


# -------------------------------------------------------------------------------------- 8. channels


def test_channel_restricted_to_one_node_ships_from_it_even_if_another_is_closer() -> None:
    # marketplace -> FAR only (20); web is unrestricted -> NEAR (5). Total 25.
    p = make_problem(
        nodes=[node("NEAR"), node("FAR")],
        stock=[stock("NEAR", "A", 5), stock("FAR", "A", 5)],
        orders=[order("O-M", line("L1", "A"), channel="marketplace"), order("O-W", line("L1", "A"))],
        channels=[{"id": "marketplace", "nodes": ["FAR"]}],
    )
    r = run(p)
    assert shipments(r) == [("O-M", "FAR", 0, {"L1": 1}), ("O-W", "NEAR", 0, {"L1": 1})]
    assert_cost(r.cost, 25.0, shipping=25.0)


# ------------------------------------------------------------------------------------ determinism


def test_the_same_seed_gives_the_same_result() -> None:
    p = example_problem(orders=25, nodes=4, skus=8, seed=5, cross_border_share=0.3)
    opts = AllocateOptions(solver="mip", time_limit_s=10, seed=7)
    a, b = allocate(p, opts), allocate(p, opts)
    check_consistent(a, p.as_of)
    assert a.solver.seed == 7
    assert a.model_dump(exclude={"solver": {"runtime_s"}}) == b.model_dump(exclude={"solver": {"runtime_s"}})
