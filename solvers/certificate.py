"""Lower bounds with a certificate: prices on the coupling rows, checked by re-solving every order.

For any nonnegative prices on supply rows and node capacities, the sum over orders of each order's
cheapest priced decision, minus the price of all supply and capacity, is a lower bound on the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.orders import OrderSolver
from solvers.problem import BoolArray, CompiledProblem, FloatArray, IntArray, Prices


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


def lagrangian_bound(cp: CompiledProblem, prices: Prices) -> float:
    """The lower bound certified by `prices`."""
    return lagrangian(cp, prices).bound


@dataclass(frozen=True, eq=False)
class Lagrangian:
    """The bound certified by some prices, and each order's cheapest priced decision."""

    bound: float
    value: FloatArray  # [O] the order's priced cost (<= 0; 0: leave it unfilled)
    chosen: IntArray  # [O, k] patterns of the decision, padded with -1
    solved: BoolArray  # [O] solved exactly (else `value` is the weaker per-unit bound, no decision)


def lagrangian(cp: CompiledProblem, prices: Prices, solver: OrderSolver | None = None) -> Lagrangian:
    """Re-solve every order at `prices`; the bound is the penalty of all units, plus each order's
    cheapest priced decision (if below leaving it unfilled), minus the price of all supply and capacity."""
    if (prices.row < 0).any() or (prices.node_packages < 0).any() or (prices.node_units < 0).any():
        raise ValueError("prices must be nonnegative")
    solver = solver or OrderSolver(cp)
    arc_price, pkg_price = priced_costs(cp, prices)
    finite = np.isfinite(cp.node_max_packages), np.isfinite(cp.node_max_units)
    total = float((cp.line_penalty * cp.line_qty).sum())
    total -= float((prices.row * cp.row_cap).sum())
    total -= float((prices.node_packages[finite[0]] * cp.node_max_packages[finite[0]]).sum())
    total -= float((prices.node_units[finite[1]] * cp.node_max_units[finite[1]]).sum())
    cost, chosen, solved = solver.relaxed_all(solver.pattern_costs(arc_price, pkg_price))
    # Orders too large for the exact search get a weaker bound: each unit at its cheapest priced arc.
    unit = cp.unit_cost() + arc_price
    cheapest = np.zeros(cp.n_lines)
    np.minimum.at(cheapest, cp.arc_line, unit)
    weak = np.bincount(cp.line_order, weights=cheapest * cp.line_qty, minlength=cp.n_orders)
    value = np.minimum(0.0, np.where(solved, cost, weak))
    return Lagrangian(total + float(value.sum()), value, chosen, solved)
