"""The per-order pricing subproblem and the large-batch master, against independent computations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing_engine.compile import compile_problem
from routing_engine.examples import example_problem
from solvers.baselines import shopify_default
from solvers.large import Master, _columns_from_allocation, order_costs
from solvers.orders import OrderSolver
from solvers.problem import CompiledProblem
from solvers.solution import evaluate

CP = compile_problem(example_problem(orders=60, nodes=5, skus=12, seed=3, scarcity="short", cross_border_share=0.3)).cp
SOLVER = OrderSolver(CP)


def brute_force_order(cp: CompiledProblem, solver: OrderSolver, o: int, pat_cost: np.ndarray) -> float:
    """Cheapest decision of order `o` by trying every choice (nothing or one content) per package."""
    pkgs = range(int(solver.pkg_ptr[o]), int(solver.pkg_ptr[o + 1]))
    options = [[-1, *range(int(solver.pat_ptr[p]), int(solver.pat_ptr[p + 1]))] for p in pkgs]
    lines = range(int(solver.line_ptr[o]), int(solver.line_ptr[o + 1]))
    best = 0.0  # leaving the order unfilled
    for combo in itertools.product(*options):
        chosen = [k for k in combo if k >= 0]
        if not chosen or len(chosen) > cp.order_max_packages[o]:
            continue
        shipped = dict.fromkeys(lines, 0)
        for k in chosen:
            for arc, units in solver.contents(k):
                shipped[int(cp.arc_line[arc])] += units
        if any(shipped[line] > cp.line_qty[line] for line in lines):
            continue
        if cp.order_all_or_nothing[o] and any(shipped[line] != cp.line_qty[line] for line in lines):
            continue
        cost = sum(float(pat_cost[k]) for k in chosen) + cp.order_split_cost[o] * (len(chosen) - 1)
        best = min(best, cost)
    return best


def small_orders() -> list[int]:
    """Orders with few enough package choices to enumerate."""
    out = []
    for o in range(CP.n_orders):
        pkgs = range(int(SOLVER.pkg_ptr[o]), int(SOLVER.pkg_ptr[o + 1]))
        size = np.prod([int(SOLVER.pat_ptr[p + 1] - SOLVER.pat_ptr[p]) + 1 for p in pkgs], dtype=float)
        if SOLVER.searchable[o] and size <= 5_000:
            out.append(o)
    return out


SMALL = small_orders()


def test_enough_orders_can_be_enumerated_to_make_the_comparison_meaningful() -> None:
    assert len(SMALL) >= 30
    lines = np.bincount(CP.line_order, minlength=CP.n_orders)[SMALL]
    assert (lines >= 2).sum() >= 5  # multi-line orders are among them


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.0, 1.0, 20.0]))
def test_the_dynamic_program_finds_each_orders_cheapest_priced_decision(seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    arc_price = rng.exponential(scale, CP.n_arcs) if scale else np.zeros(CP.n_arcs)
    pkg_price = rng.exponential(scale, CP.n_packages) if scale else np.zeros(CP.n_packages)
    pat_cost = SOLVER.pattern_costs(arc_price, pkg_price)
    cost, chosen, solved = SOLVER.relaxed_all(pat_cost, np.array(SMALL, dtype=np.int64))
    assert solved.all()
    for i, o in enumerate(SMALL):
        assert cost[i] == pytest.approx(brute_force_order(CP, SOLVER, o, pat_cost), abs=1e-7)
        picked = chosen[i][chosen[i] >= 0]
        again = pat_cost[picked].sum() + CP.order_split_cost[o] * max(len(picked) - 1, 0)
        assert again == pytest.approx(cost[i], abs=1e-7)  # the decision returned costs what is reported


def test_order_costs_add_up_to_the_evaluated_total() -> None:
    x = shopify_default(CP).x
    penalty = float((CP.line_penalty * CP.line_qty).sum())
    assert order_costs(CP, x).sum() + penalty == pytest.approx(evaluate(CP, x).total, rel=1e-12)


def test_master_columns_reproduce_the_allocation_they_were_made_from() -> None:
    x = shopify_default(CP).x
    master = Master(CP)
    added = master.add(*_columns_from_allocation(CP, x))
    assert added == len(np.unique(CP.line_order[CP.arc_line[x > 0]]))
    assert master.add(*_columns_from_allocation(CP, x)) == 0  # known columns are not added twice
    chosen = master.columns_of(x)
    assert np.array_equal(master.allocation(chosen), x)
    penalty = float((CP.line_penalty * CP.line_qty).sum())
    assert chosen @ master.cost + penalty == pytest.approx(evaluate(CP, x).total, rel=1e-12)
