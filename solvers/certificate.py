"""Lower bounds with a certificate: prices on the coupling rows, checked by re-solving every order.

For any nonnegative prices on supply rows and node capacities, the sum over orders of each order's
cheapest priced decision, minus the price of all supply and capacity, is a lower bound on the optimum.
"""

from __future__ import annotations

import time

import numpy as np

from solvers.orders import DP_WORK_LIMIT, OrderSolver
from solvers.problem import CompiledProblem, FloatArray, Prices


def priced_costs(cp: CompiledProblem, prices: Prices) -> tuple[FloatArray, FloatArray]:
    """Price per unit of each arc (its supply rows, node units if it ships now) and per package.

    A node without a limit has no capacity row, so a price on it is ignored (it would not be paid back).
    """
    rows, arcs = cp.row_of_arcs()
    now_pkg = cp.pkg_wait_days == 0
    unit_price = np.where(np.isfinite(cp.node_max_units), prices.node_units, 0.0)
    package_price = np.where(np.isfinite(cp.node_max_packages), prices.node_packages, 0.0)
    arc_price = np.bincount(arcs, weights=prices.row[rows], minlength=cp.n_arcs).astype(np.float64)
    arc_price += np.where(now_pkg[cp.arc_pkg], unit_price[cp.pkg_node[cp.arc_pkg]], 0.0)
    pkg_price = np.where(now_pkg, package_price[cp.pkg_node], 0.0)
    return arc_price, pkg_price


def lagrangian_bound(
    cp: CompiledProblem, prices: Prices, solver: OrderSolver | None = None, deadline: float | None = None
) -> float | None:
    """The lower bound certified by `prices`; None if `deadline` (perf_counter) passes first."""
    result = lagrangian_pass(cp, prices, solver, deadline)
    return None if result is None else result[0]


def lagrangian_pass(
    cp: CompiledProblem, prices: Prices, solver: OrderSolver | None = None, deadline: float | None = None
) -> tuple[float, list[list[tuple[int, int]]]] | None:
    """The bound certified by `prices` and each order's cheapest priced decision [(arc, units)]."""
    if (prices.row < 0).any() or (prices.node_packages < 0).any() or (prices.node_units < 0).any():
        raise ValueError("prices must be nonnegative")
    solver = solver or OrderSolver(cp)
    arc_price, pkg_price = priced_costs(cp, prices)
    pat_cost = solver.pattern_costs(arc_price, pkg_price)
    finite = np.isfinite(cp.node_max_packages), np.isfinite(cp.node_max_units)
    total = float((cp.line_penalty * cp.line_qty).sum())
    total -= float((prices.row * cp.row_cap).sum())
    total -= float((prices.node_packages[finite[0]] * cp.node_max_packages[finite[0]]).sum())
    total -= float((prices.node_units[finite[1]] * cp.node_max_units[finite[1]]).sum())
    # Orders too large for the exact search get a weaker bound: each unit at its cheapest priced arc.
    unit = cp.unit_cost() + arc_price
    cheapest = np.zeros(cp.n_lines)
    np.minimum.at(cheapest, cp.arc_line, unit)
    weak = np.bincount(cp.line_order, weights=cheapest * cp.line_qty, minlength=cp.n_orders)
    decisions: list[list[tuple[int, int]]] = [[] for _ in range(cp.n_orders)]
    # Orders of one unit choose their cheapest package or nothing: vectorised.
    pat = solver.patterns
    single = solver.single_unit
    pat_order = cp.pkg_order[pat.pat_pkg]
    mine = np.flatnonzero(single[pat_order])
    best_single = np.zeros(cp.n_orders)
    np.minimum.at(best_single, pat_order[mine], pat_cost[mine])
    total += float(best_single[single].sum())
    chosen = mine[pat_cost[mine] <= best_single[pat_order[mine]] + 1e-12]
    chosen = chosen[pat_cost[chosen] < 0]
    for k, o in zip(chosen.tolist(), pat_order[chosen].tolist(), strict=True):
        if not decisions[o]:
            decisions[o] = [(int(pat.entry_arc[solver.entry_ptr[k]]), 1)]
    for o in np.flatnonzero(~single).tolist():
        if deadline is not None and o % 256 == 0 and time.perf_counter() > deadline:
            return None
        if solver.searchable[o] and solver.relaxed_work(o) <= DP_WORK_LIMIT:
            best, decision = solver.solve_relaxed(o, pat_cost)
        else:
            best, decision = float(weak[o]), []
        total += min(0.0, best)
        decisions[o] = decision
    return total, decisions
