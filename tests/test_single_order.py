"""The exact single-order path agrees with the MIP on one-order problems (the real-time call)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_engine.compile import compile_problem
from routing_engine.examples import example_problem
from routing_engine.model import Problem
from solvers import solve, violations

BASE = example_problem(orders=40, nodes=6, skus=20, seed=11, scarcity="short", cross_border_share=0.3)


def one_order(index: int, **policy: object) -> Problem:
    return BASE.model_copy(update={"orders": [BASE.orders[index]], "policy": BASE.policy.model_copy(update=policy)})


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    index=st.integers(0, len(BASE.orders) - 1),
    split_cost=st.sampled_from([0.0, 4.0, 40.0]),
    max_packages=st.sampled_from([None, 1, 2]),
    ship_complete=st.booleans(),
    allow_partial=st.booleans(),
    backorders=st.booleans(),
    penalty=st.sampled_from([5.0, 60.0]),
)
def test_single_order_search_costs_exactly_what_the_mip_proves_optimal(
    index: int,
    split_cost: float,
    max_packages: int | None,
    ship_complete: bool,
    allow_partial: bool,
    backorders: bool,
    penalty: float,
) -> None:
    problem = one_order(
        index,
        split_cost=split_cost,
        max_packages_per_order=max_packages,
        ship_complete=ship_complete,
        allow_partial=allow_partial,
        backorders=backorders,
        unfilled_penalty_per_unit=penalty,
    )
    cp = compile_problem(problem).cp
    fast = solve(cp, "single")
    exact = solve(cp, "mip", time_limit_s=30)
    assert violations(cp, fast.x) == []
    assert exact.status == "optimal"
    assert fast.objective == pytest.approx(exact.objective, abs=1e-6, rel=1e-4)
    assert fast.status == "optimal"
    assert fast.bound == fast.objective


def test_auto_takes_the_single_order_path_for_one_order_and_the_mip_for_a_batch() -> None:
    assert solve(compile_problem(one_order(0)).cp, "auto").solver == "single"
    assert solve(compile_problem(BASE).cp, "auto", time_limit_s=30).solver.startswith("mip")


def test_single_order_path_rejects_a_batch() -> None:
    with pytest.raises(ValueError, match="one order"):
        solve(compile_problem(BASE).cp, "single")
