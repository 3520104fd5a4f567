"""Large batches: Lagrangian prices, a price-guided repair, and the MIP over the promising candidates.

A rule-chain answer exists from the start. Prices on stock and capacity come from the LP relaxation
over each order's most promising candidates, grown with the candidates the priced orders ask for. Each
order's cheapest priced decision, taken in order of value and repaired where stock ran out, gives a
good allocation; the MIP over the promising candidates improves it while time is left. The prices,
re-checked on every order with *all* its candidates, certify a lower bound for the full problem.
"""

from __future__ import annotations

import time

import numpy as np

from solvers.baselines import BASELINES
from solvers.certificate import lagrangian_pass
from solvers.mip import Relaxation, lp_prices, solve_mip
from solvers.orders import OrderSolver, take
from solvers.problem import BoolArray, CompiledProblem, IntArray, restrict
from solvers.solution import EPS, Solution, evaluate, violations

#: Candidate packages kept per order, and per line.
KEEP_PER_ORDER = 6
KEEP_PER_LINE = 3


def promising(cp: CompiledProblem, per_order: int = KEEP_PER_ORDER, per_line: int = KEEP_PER_LINE) -> BoolArray:
    """The packages worth weighing: each order's cheapest few for one unit, and each line's cheapest few."""
    cheapest_band = np.full(cp.n_packages, np.inf)
    np.minimum.at(cheapest_band, cp.band_pkg, cp.band_price)
    arc_cost = cp.arc_cost.sum(axis=1)
    cheapest_arc = np.full(cp.n_packages, np.inf)
    np.minimum.at(cheapest_arc, cp.arc_pkg, arc_cost)
    score = cp.pkg_cost.sum(axis=1) + cheapest_band + cheapest_arc
    keep = _rank_within(score, cp.pkg_order, cp.n_orders) < per_order
    arc_rank = _rank_within(score[cp.arc_pkg] + arc_cost, cp.arc_line, cp.n_lines)
    keep[cp.arc_pkg[arc_rank < per_line]] = True
    return keep


def _rank_within(score: np.ndarray, group: IntArray, n_groups: int) -> IntArray:
    by = np.lexsort((score, group))
    first = np.r_[0, np.cumsum(np.bincount(group, minlength=n_groups))[:-1]]
    rank = np.empty(len(score), dtype=np.int64)
    rank[by] = np.arange(len(score)) - first[group[by]]
    return rank


def lp_rounding(
    cp: CompiledProblem,
    solver: OrderSolver,
    sub: CompiledProblem,
    arc_of: IntArray,
    relaxation: Relaxation,
    deadline: float,
) -> IntArray:
    """Keep the orders the LP decides integrally (they fit together), then serve the others one by one,
    exactly, on what is left, until `deadline` (perf_counter); orders not reached stay unfilled."""
    rows, arcs = cp.row_of_arcs()
    by_arc = np.argsort(arcs, kind="stable")
    arc_rows = (np.r_[0, np.cumsum(np.bincount(arcs, minlength=cp.n_arcs))], rows[by_arc])
    row_left = cp.row_cap.astype(float)
    pk_left, units_left = cp.node_max_packages.copy(), cp.node_max_units.copy()
    x = np.zeros(cp.n_arcs, dtype=np.int64)
    keep = relaxation.integral_order[sub.line_order[sub.arc_line]]
    units = np.rint(relaxation.x).astype(np.int64)
    decided = [(int(arc_of[a]), int(units[a])) for a in np.flatnonzero(keep & (units > 0))]
    take(cp, decided, x, row_left, pk_left, units_left, arc_rows)
    pat_cost, unit = solver.pattern_costs(), cp.unit_cost()
    # The rest, most constrained first: those with the fewest candidate packages.
    rest = np.flatnonzero(~relaxation.integral_order)
    rest = rest[np.argsort((solver.pkg_ptr[rest + 1] - solver.pkg_ptr[rest]), kind="stable")]
    for o in rest.tolist():
        if time.perf_counter() > deadline:
            break
        if solver.searchable[o]:
            _, decision = solver.solve(o, pat_cost, unit, row_left, pk_left, units_left)
            take(cp, decision, x, row_left, pk_left, units_left, arc_rows)
    return x


def solve_large(cp: CompiledProblem, *, time_limit_s: float = 60.0, seed: int = 0) -> Solution:
    """Near-optimal allocation of a large batch within `time_limit_s`, with a certified lower bound."""
    start = time.perf_counter()
    deadline = start + time_limit_s

    def left() -> float:
        return deadline - time.perf_counter()

    # Anytime: the best rule chain is the answer until something better is found.
    baseline = min((run(cp) for run in BASELINES.values()), key=lambda s: s.objective)
    x_best, cost_best = baseline.x, baseline.objective
    solver = OrderSolver(cp)
    keep = promising(cp)
    bound, prices = -np.inf, None
    # Prices: the LP over the kept candidates, grown with what the priced orders ask for; each LP's
    # integral part, completed order by order on what is left, is an allocation.
    for _ in range(3):
        if left() < 0.5 * time_limit_s:
            break
        sub, arc_of = restrict(cp, keep)
        lp = lp_prices(sub, time_limit_s=0.4 * left())
        if lp is None:
            break
        x = lp_rounding(cp, solver, sub, arc_of, lp, deadline)
        cost = evaluate(cp, x).total
        if cost < cost_best - EPS and not violations(cp, x):
            x_best, cost_best = x, cost
        passed = lagrangian_pass(cp, lp.prices, solver, deadline=deadline)
        if passed is None:
            break
        if passed[0] > bound:
            bound, prices = passed[0], lp.prices
        wanted = np.zeros(cp.n_packages, bool)
        wanted[[cp.arc_pkg[a] for d in passed[1] for a, _ in d]] = True
        if not (wanted & ~keep).any():
            break
        keep |= wanted
    if left() > 1.0:
        keep[cp.arc_pkg[x_best > 0]] = True
        sub, arc_of = restrict(cp, keep)
        hint = Solution(
            x=x_best[arc_of], solver="hint", status="heuristic", objective=cost_best, bound=None, runtime_s=0.0
        )
        try:
            sol = solve_mip(sub, time_limit_s=left(), seed=seed, hint=hint)
        except RuntimeError:  # no solution within the deadline: keep what we have
            sol = hint
        x = np.zeros(cp.n_arcs, dtype=np.int64)
        x[arc_of] = sol.x
        cost = evaluate(cp, x).total
        if cost < cost_best - EPS and not violations(cp, x):
            x_best, cost_best = x, cost
    certified = prices is not None and np.isfinite(bound)
    status = "optimal" if certified and cost_best - bound <= 1e-4 * abs(cost_best) else "feasible"
    return Solution(
        x=x_best,
        solver="large",
        status=status,
        objective=cost_best,
        bound=min(float(bound), cost_best) if certified else None,
        runtime_s=time.perf_counter() - start,
        seed=seed,
        prices=prices if certified else None,
    )
