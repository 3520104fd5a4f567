"""The exact MIP against an independent brute-force oracle, on tiny random and hand-picked problems.

`oracle.brute_force` enumerates every feasible decision of a tiny problem from the contract alone (it never
touches the engine's compiler, cost model, decoder or solvers), so a mistake in the engine's formulation
shows up as a cost disagreement or as a `check_result` violation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from oracle import (
    brute_force,
    brute_force_solution,
    check_result,
    costs_close,
    describe_solution,
    tiny_problems,
)

from routing_engine import AllocateOptions, AllocationResult, Problem, allocate

BASELINES = ("shopify-default", "nearest", "ranked")
TIME_LIMIT_S = 30.0


def solve(problem: Problem, solver: str) -> AllocationResult:
    return allocate(problem, AllocateOptions(solver=solver, time_limit_s=TIME_LIMIT_S))  # type: ignore[arg-type]


def assert_matches_brute_force(problem: Problem) -> float:
    """The MIP is optimal, valid and as cheap as the brute force; every baseline is valid and no cheaper."""
    sol = brute_force_solution(problem)
    mip = solve(problem, "mip")
    context = f"{describe_solution(problem, sol)}\nproblem: {problem.model_dump_json()}"
    assert mip.solver.status == "optimal", context
    errors = check_result(problem, mip)
    assert not errors, f"MIP result breaks the contract: {errors}\n{context}"
    assert costs_close(mip.cost.total, sol.cost), f"MIP total {mip.cost.total} != brute force {sol.cost}\n{context}"
    for name in BASELINES:
        result = solve(problem, name)
        errors = check_result(problem, result)
        assert not errors, f"{name} result breaks the contract: {errors}\n{context}"
        assert result.cost.total >= sol.cost - 1e-6, f"{name} total {result.cost.total} < optimum {sol.cost}\n{context}"
    return sol.cost


# ----------------------------------------------------------------------------------- random tiny problems

TINY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@TINY
@given(problem=tiny_problems())
def test_mip_cost_equals_brute_force_optimum_and_every_solver_result_satisfies_the_contract(problem: Problem) -> None:
    assert_matches_brute_force(problem)


@TINY
@given(problem=tiny_problems(open_network=True))
def test_mip_matches_brute_force_on_open_networks_where_orders_split_across_nodes_and_dates(problem: Problem) -> None:
    assert_matches_brute_force(problem)


@pytest.mark.slow
@settings(TINY, max_examples=1000)
@given(problem=tiny_problems())
def test_mip_matches_brute_force_on_a_thousand_more_tiny_problems(problem: Problem) -> None:
    assert_matches_brute_force(problem)


# ------------------------------------------------------------------------------------ hand-picked problems

AS_OF = dt.date(2026, 1, 10)


def make_problem(
    *,
    nodes: list[dict[str, Any]] | None = None,
    skus: list[dict[str, Any]] | None = None,
    stock: list[dict[str, Any]] | None = None,
    inbound: list[dict[str, Any]] | None = None,
    orders: list[dict[str, Any]],
    policy: dict[str, Any] | None = None,
    tariffs: dict[str, Any] | None = None,
    **extra: Any,
) -> Problem:
    """A small problem with a flat 5 USD rate card (distance never matters) unless told otherwise."""
    return Problem.model_validate(
        {
            "as_of": AS_OF,
            "currency": "USD",
            "nodes": nodes or [{"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0}],
            "skus": skus or [{"id": "K0", "weight_kg": 1.0}, {"id": "K1", "weight_kg": 1.0}],
            "stock": stock or [],
            "inbound": inbound or [],
            "orders": orders,
            "policy": {"unfilled_penalty_per_unit": 100.0, **(policy or {})},
            "tariffs": tariffs or {"default": {"currency": "USD", "prices": [[5.0]]}},
            **extra,
        }
    )


def order(
    id: str, lines: list[tuple[str, int] | dict[str, Any]], *, country: str = "US", **extra: Any
) -> dict[str, Any]:
    lat, lon = {"US": (41.0, -100.0), "CA": (45.5, -73.6), "GB": (51.5, -0.1)}[country]
    return {
        "id": id,
        "currency": "USD",
        "destination": {"country": country, "lat": lat, "lon": lon},
        "lines": [
            line if isinstance(line, dict) else {"id": f"L{i}", "sku": line[0], "quantity": line[1], "unit_price": 10.0}
            for i, line in enumerate(lines)
        ],
        **extra,
    }


def assert_optimum(problem: Problem, expected: float) -> None:
    assert brute_force(problem) == pytest.approx(expected, rel=1e-9, abs=1e-9), (
        "the oracle disagrees with the hand computation"
    )
    assert assert_matches_brute_force(problem) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_package_weight_exactly_on_a_band_limit_is_priced_in_the_lower_band() -> None:
    p = make_problem(
        stock=[{"node": "N0", "sku": "K0", "on_hand": 2}],
        orders=[order("O0", [("K0", 2)])],  # 2 x 1.0 kg = 2.0 kg, exactly the first band's limit
        tariffs={"default": {"currency": "USD", "weight_limits_kg": [2.0], "prices": [[5.0, 50.0]]}},
    )
    assert_optimum(p, 5.0)


def test_splitting_a_consignment_below_de_minimis_is_cheaper_than_paying_duty() -> None:
    # CA nodes shipping to the US: one 120 USD package from N0 pays 0.2 * 120 + 10 = 34 duty; a 60 USD
    # package from each node pays none (a package is one order, node and wait, so splitting needs two nodes).
    p = make_problem(
        nodes=[
            {"id": "N0", "country": "CA", "lat": 45.5, "lon": -73.6, "ships_to": ["US"]},
            {"id": "N1", "country": "CA", "lat": 43.7, "lon": -79.4, "ships_to": ["US"]},
        ],
        stock=[
            {"node": "N0", "sku": "K0", "on_hand": 1},
            {"node": "N0", "sku": "K1", "on_hand": 1},
            {"node": "N1", "sku": "K1", "on_hand": 1},
        ],
        orders=[
            order(
                "O0",
                [
                    {"id": "A", "sku": "K0", "quantity": 1, "unit_price": 60.0},
                    {"id": "B", "sku": "K1", "quantity": 1, "unit_price": 60.0},
                ],
            )
        ],
        policy={"split_cost": 1.0},
        countries={"US": {"currency": "USD", "de_minimis": 100.0, "duty_rate": 0.2, "clearance_fee": 10.0}},
    )
    assert_optimum(p, 5.0 + 5.0 + 1.0)


def test_consignment_value_exactly_at_de_minimis_is_duty_free() -> None:
    p = make_problem(
        nodes=[{"id": "N0", "country": "CA", "lat": 45.5, "lon": -73.6, "ships_to": ["US"]}],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 2}],
        orders=[order("O0", [{"id": "A", "sku": "K0", "quantity": 2, "unit_price": 50.0}])],
        countries={"US": {"currency": "USD", "de_minimis": 100.0, "duty_rate": 0.2, "clearance_fee": 10.0}},
    )
    assert_optimum(p, 5.0)


def test_fx_converts_rate_card_handling_and_duty_into_the_reporting_currency() -> None:
    # GBP rate card 10, CAD handling 2 + 1/unit, EUR import rule: value 2 x 40 USD = 80 USD = 80 / 1.08 EUR.
    p = make_problem(
        nodes=[
            {
                "id": "N0",
                "country": "US",
                "lat": 40.0,
                "lon": -100.0,
                "ships_to": ["GB"],
                "currency": "CAD",
                "handling_per_package": 2.0,
                "handling_per_unit": 1.0,
            }
        ],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 2}],
        orders=[order("O0", [{"id": "A", "sku": "K0", "quantity": 2, "unit_price": 40.0}], country="GB")],
        tariffs={"default": {"currency": "GBP", "prices": [[10.0]]}},
        fx={"GBP": 1.27, "CAD": 0.73, "EUR": 1.08},
        countries={"GB": {"currency": "EUR", "de_minimis": 50.0, "duty_rate": 0.1, "clearance_fee": 3.0}},
        policy={"unfilled_penalty_per_unit": 1000.0},
    )
    value_eur = 80.0 / 1.08
    expected = 10.0 * 1.27 + (2.0 + 2 * 1.0) * 0.73 + (0.1 * value_eur + 3.0) * 1.08
    assert_optimum(p, expected)


def test_pickup_order_is_served_only_by_its_store_without_shipping_or_duties() -> None:
    p = make_problem(
        nodes=[
            {"id": "DC", "country": "US", "lat": 41.0, "lon": -100.0},
            {
                "id": "STORE",
                "country": "US",
                "lat": 30.0,
                "lon": -90.0,
                "pickup": True,
                "ships_to": ["CA"],
                "handling_per_package": 2.0,
                "tariff": "dear",
            },
        ],
        stock=[{"node": "DC", "sku": "K0", "on_hand": 5}, {"node": "STORE", "sku": "K0", "on_hand": 1}],
        # The destination says CA, but a pickup's country is its store's: no duty even with a CA rule.
        orders=[order("O0", [("K0", 2)], country="CA", pickup_node="STORE", channel="marketplace")],
        tariffs={"default": {"currency": "USD", "prices": [[5.0]]}, "dear": {"currency": "USD", "prices": [[500.0]]}},
        channels=[{"id": "marketplace", "nodes": ["DC"]}],
        countries={"CA": {"currency": "USD", "de_minimis": 0.0, "duty_rate": 0.5, "clearance_fee": 10.0}},
    )
    assert_optimum(p, 2.0 + 100.0)  # one unit picked up (handling only), one unfilled


def test_channel_buffer_withholds_stock_from_that_channel_only() -> None:
    p = make_problem(
        stock=[{"node": "N0", "sku": "K0", "on_hand": 2, "channel_buffers": {"marketplace": 1}}],
        orders=[order("O0", [("K0", 2)], channel="marketplace"), order("O1", [("K0", 1)], channel="web")],
    )
    assert_optimum(p, 5.0 + 100.0 + 5.0)  # the marketplace order gets one unit, the web order the other


def test_channel_restricted_to_other_nodes_leaves_its_order_unfilled() -> None:
    p = make_problem(
        nodes=[
            {"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0},
            {"id": "N1", "country": "US", "lat": 35.0, "lon": -90.0},
        ],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 5}],
        orders=[order("O0", [("K0", 1)], channel="marketplace")],
        channels=[{"id": "marketplace", "nodes": ["N1"]}],
    )
    assert_optimum(p, 100.0)


def test_inbound_with_past_eta_is_a_one_day_backorder() -> None:
    p = make_problem(
        inbound=[{"id": "PO", "node": "N0", "sku": "K0", "quantity": 1, "eta": AS_OF - dt.timedelta(days=3)}],
        orders=[order("O0", [("K0", 1)])],
        policy={"backorder_cost_per_unit_day": 2.0},
    )
    assert_optimum(p, 5.0 + 2.0 * 1)


def test_backorder_beyond_max_backorder_days_is_unfilled() -> None:
    p = make_problem(
        inbound=[{"id": "PO", "node": "N0", "sku": "K0", "quantity": 1, "eta": AS_OF + dt.timedelta(days=5)}],
        orders=[order("O0", [("K0", 1)])],
        policy={"max_backorder_days": 4},
    )
    assert_optimum(p, 100.0)
    within = p.model_copy(update={"policy": p.policy.model_copy(update={"max_backorder_days": 5})})
    assert_optimum(within, 5.0)


def test_backorders_disabled_leave_inbound_unused() -> None:
    p = make_problem(
        inbound=[{"id": "PO", "node": "N0", "sku": "K0", "quantity": 1, "eta": AS_OF + dt.timedelta(days=2)}],
        orders=[order("O0", [("K0", 1)])],
        policy={"backorders": False},
    )
    assert_optimum(p, 100.0)


def test_ship_complete_order_waits_for_its_backordered_line_in_one_package() -> None:
    stock = [{"node": "N0", "sku": "K0", "on_hand": 1}]
    inbound = [{"id": "PO", "node": "N0", "sku": "K1", "quantity": 1, "eta": AS_OF + dt.timedelta(days=2)}]
    policy = {"backorder_cost_per_unit_day": 3.0, "split_cost": 0.0}
    split = make_problem(stock=stock, inbound=inbound, orders=[order("O0", [("K0", 1), ("K1", 1)])], policy=policy)
    assert_optimum(split, 5.0 + 5.0 + 3.0 * 2)  # K0 now, K1 in 2 days
    complete = make_problem(
        stock=stock, inbound=inbound, orders=[order("O0", [("K0", 1), ("K1", 1)], ship_complete=True)], policy=policy
    )
    assert_optimum(complete, 5.0 + 3.0 * 2 * 2)  # both in one package in 2 days


def test_unsplittable_line_ships_whole_from_one_node_or_not_at_all() -> None:
    nodes = [
        {"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0},
        {"id": "N1", "country": "US", "lat": 35.0, "lon": -90.0},
    ]
    stock = [{"node": "N0", "sku": "K0", "on_hand": 1}, {"node": "N1", "sku": "K0", "on_hand": 1}]
    line = {"id": "L0", "sku": "K0", "quantity": 2, "unit_price": 10.0}
    policy = {"unfilled_penalty_per_unit": 10.0}
    assert_optimum(make_problem(nodes=nodes, stock=stock, orders=[order("O0", [line])], policy=policy), 5.0 + 5.0)
    unsplittable = make_problem(
        nodes=nodes, stock=stock, orders=[order("O0", [{**line, "splittable": False}])], policy=policy
    )
    assert_optimum(unsplittable, 2 * 10.0)


def test_order_without_partial_shipments_ships_everything_or_nothing() -> None:
    p = make_problem(
        stock=[{"node": "N0", "sku": "K0", "on_hand": 1}],
        orders=[order("O0", [("K0", 1), ("K1", 1)])],
        policy={"allow_partial": False, "unfilled_penalty_per_unit": 20.0},
    )
    assert_optimum(p, 2 * 20.0)


def test_restricted_sku_is_never_shipped_to_the_restricted_country() -> None:
    p = make_problem(
        nodes=[{"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0, "ships_to": ["US", "GB"]}],
        skus=[{"id": "K0", "weight_kg": 1.0, "restricted_countries": ["GB"]}],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 5}],
        orders=[order("O0", [("K0", 1)], country="GB"), order("O1", [("K0", 1)], country="US")],
    )
    assert_optimum(p, 100.0 + 5.0)


def test_node_package_capacity_limits_packages_shipped_now() -> None:
    p = make_problem(
        nodes=[{"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0, "max_packages": 1}],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 5}],
        orders=[order("O0", [("K0", 1)]), order("O1", [("K0", 2)])],
    )
    assert_optimum(p, 5.0 + 100.0)  # the two-unit order ships, the other is unfilled


# ------------------------------------------------------------------------------------ degenerate problems


def test_problem_where_nothing_can_ship_allocates_everything_unfilled() -> None:
    p = make_problem(
        skus=[{"id": "K0", "weight_kg": 1.0, "restricted_countries": ["US"]}],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 5}],
        orders=[order("O0", [("K0", 1)])],
    )
    assert_optimum(p, 100.0)


def test_problem_without_orders_costs_nothing() -> None:
    assert_optimum(make_problem(stock=[{"node": "N0", "sku": "K0", "on_hand": 5}], orders=[]), 0.0)


# ------------------------------------------------------- lines sharing stock and capacity within one order


def test_two_lines_of_one_order_with_the_same_sku_share_the_node_stock() -> None:
    p = make_problem(
        stock=[{"node": "N0", "sku": "K0", "on_hand": 2}],
        orders=[order("O0", [("K0", 2), ("K0", 1)])],
    )
    assert_optimum(p, 5.0 + 100.0)  # 2 of the 3 units ship, 1 is unfilled


def test_node_unit_capacity_counts_every_line_of_a_package() -> None:
    p = make_problem(
        nodes=[{"id": "N0", "country": "US", "lat": 40.0, "lon": -100.0, "max_units": 1}],
        stock=[{"node": "N0", "sku": "K0", "on_hand": 5}, {"node": "N0", "sku": "K1", "on_hand": 5}],
        orders=[order("O0", [("K0", 1), ("K1", 1)])],
    )
    assert_optimum(p, 5.0 + 100.0)  # one unit ships, the other is unfilled


@TINY
@given(problem=tiny_problems(repeated_skus=True))
def test_mip_matches_brute_force_when_lines_of_one_order_repeat_a_sku(problem: Problem) -> None:
    assert_matches_brute_force(problem)
