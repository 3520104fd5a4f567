"""Large batches: column generation over per-order decisions, a certified bound, an integer master.

Orders interact only through shared supply rows and node capacity. The master LP chooses, per order,
a mix of complete decisions (columns) under those coupling rows; its dual prices turn each order into
an independent subproblem, solved exactly, whose answers are the new columns and whose values certify
a Lagrangian lower bound for the full problem. A dive rounds the LP (fix the orders it settles, re-solve
and re-price the rest on what is left, repeat); the integer master over neighbourhoods of orders, with
columns that fit what the other orders leave, then improves the best allocation so far.
A rule-chain allocation exists from the start.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from ortools.pdlp import solvers_pb2
from ortools.pdlp.python import pdlp

from solvers import highs
from solvers.baselines import shopify_default
from solvers.certificate import lagrangian, priced_costs
from solvers.orders import OrderSolver, fits, take
from solvers.problem import BoolArray, CompiledProblem, FloatArray, IntArray, Prices
from solvers.solution import EPS, Solution, evaluate, violations

log = logging.getLogger(__name__)

#: Stop once the certified gap is this small (relative).
TARGET_GAP = 1e-4
#: Stop pricing once the master LP is this close (relative) to the bound: little is left to gain.
LP_CONVERGED = 2e-4
#: Share of the time kept for rounding and the integer master over the columns.
PRIMAL_SHARE = 0.35
#: Orders freed per neighbourhood of the integer master, and the time each neighbourhood gets.
NEIGHBOURHOOD_ORDERS = 1000
#: Neighbourhoods grow while solved quickly, up to this many orders (HiGHS's presolve of a bigger
#: integer master may not stop at its time limit).
MAX_NEIGHBOURHOOD_ORDERS = 8000
NEIGHBOURHOOD_S = 3.0
#: Share of the LP's fractional orders fixed per step of the dive (smaller: closer to the LP, slower),
#: and at least this many orders.
DIVE_SHARE = 0.03
DIVE_MIN_ORDERS = 5
#: The share once half the dive's time is gone.
DIVE_LATE_SHARE = 0.3
#: Pricing rounds after each step of the dive.
DIVE_PRICING_ROUNDS = 2
#: A column value this close to 1 is whole; this close to 0, unused.
DIVE_TOL = 1e-3
#: Rounds of alternative decisions added for the integer master.
ALTERNATIVES = 2
#: Relative accuracy of the master LP (first-order method): duals are only prices, whose bound is
#: recomputed exactly, so a rough LP costs nothing in rigour.
LP_EPS = 1e-5
#: A new column must improve its order's reduced cost by at least this much.
REDUCED_COST_TOL = 1e-6


def order_costs(cp: CompiledProblem, x: IntArray) -> FloatArray:
    """Cost of each order's part of `x`, net of the unfilled penalty of the units it serves."""
    ev = evaluate(cp, x)
    pkg_fixed = cp.pkg_cost.sum(axis=1) - cp.pkg_cost[:, 0]  # every part but shipping, which `ev` prices
    pkg = np.where(ev.pkg_used, pkg_fixed + ev.pkg_shipping + ev.pkg_duty, 0.0)
    cost = np.bincount(cp.pkg_order, weights=pkg, minlength=cp.n_orders)
    cost += np.bincount(cp.line_order[cp.arc_line], weights=x * cp.unit_cost(), minlength=cp.n_orders)
    packages = np.bincount(cp.pkg_order, weights=ev.pkg_used, minlength=cp.n_orders)
    return cost + cp.order_split_cost * np.maximum(packages - 1, 0)


def _ranges(starts: IntArray, counts: IntArray) -> IntArray:
    """Concatenated ranges [starts[i], starts[i] + counts[i])."""
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


def _column_key(order: int, arcs: IntArray, units: IntArray) -> bytes:
    """Identity of a column: its order and its (arc, units) entries, arcs ascending."""
    return np.r_[order, arcs, units].astype(np.int64).tobytes()


class Master:
    """The restricted master: min sum c_j l_j, coupling rows <= capacity, sum of an order's l_j <= 1.

    Rows: supply rows, then finite node package limits, finite node unit limits, then one per order.
    Column j is a complete decision of order `order[j]`: units `units` on arcs `arcs` in its slice.
    """

    def __init__(self, cp: CompiledProblem) -> None:
        self.cp = cp
        self.arc_row_ptr, self.arc_rows = cp.rows_by_arc()
        pk_nodes = np.flatnonzero(np.isfinite(cp.node_max_packages))
        unit_nodes = np.flatnonzero(np.isfinite(cp.node_max_units))
        self.pk_row = np.full(cp.n_nodes, -1, dtype=np.int64)
        self.pk_row[pk_nodes] = cp.n_rows + np.arange(len(pk_nodes))
        self.unit_row = np.full(cp.n_nodes, -1, dtype=np.int64)
        self.unit_row[unit_nodes] = cp.n_rows + len(pk_nodes) + np.arange(len(unit_nodes))
        self.order_row0 = cp.n_rows + len(pk_nodes) + len(unit_nodes)
        self.n_rows = self.order_row0 + cp.n_orders
        upper = np.r_[cp.row_cap, cp.node_max_packages[pk_nodes], cp.node_max_units[unit_nodes], np.ones(cp.n_orders)]
        self.order = np.zeros(0, dtype=np.int64)
        self.cost = np.zeros(0)
        self.ptr = np.zeros(1, dtype=np.int64)
        self.arcs = np.zeros(0, dtype=np.int64)
        self.units = np.zeros(0, dtype=np.int64)
        self.seen: dict[bytes, int] = {}  # column of each known decision
        # The master in CSC form.
        self.upper = upper.astype(float)
        self.col_start = np.zeros(1, dtype=np.int64)
        self.col_rows: list[IntArray] = []
        self.col_values: list[FloatArray] = []
        self.warm: tuple[FloatArray, FloatArray] | None = None  # last LP's column values and duals

    @property
    def n_cols(self) -> int:
        return len(self.order)

    def add(self, order: IntArray, cost: FloatArray, col: IntArray, arcs: IntArray, units: IntArray) -> int:
        """Add columns: entry i puts `units[i]` on `arcs[i]` in new column `col[i]` of `order[col]`.

        Empty and already known columns are skipped; returns how many were added."""
        cp = self.cp
        by = np.lexsort((arcs, col))
        col, arcs, units = col[by], arcs[by], units[by]
        counts = np.bincount(col, minlength=len(order))
        ptr = np.r_[0, np.cumsum(counts)]
        fresh = np.zeros(len(order), dtype=np.bool_)
        for j in np.flatnonzero(counts).tolist():
            key = _column_key(int(order[j]), arcs[ptr[j] : ptr[j + 1]], units[ptr[j] : ptr[j + 1]])
            if key not in self.seen:
                self.seen[key] = len(self.order) + int(fresh.sum())
                fresh[j] = True
        keep = fresh[col]
        new_id = np.cumsum(fresh) - 1
        col, arcs, units = new_id[col[keep]], arcs[keep], units[keep]
        order, cost = order[fresh], cost[fresh]
        n = len(order)
        if n == 0:
            return 0
        # Coefficients: units on each supply row, packages and units shipped now per limited node, 1 on
        # the order's row.
        per = np.diff(self.arc_row_ptr)[arcs]
        c_parts = [np.repeat(col, per)]
        r_parts = [self.arc_rows[_ranges(self.arc_row_ptr[arcs], per)]]
        v_parts = [np.repeat(units, per).astype(float)]
        now = cp.pkg_wait_days[cp.arc_pkg[arcs]] == 0
        node = cp.pkg_node[cp.arc_pkg[arcs]]
        c_parts.append(col[now])
        r_parts.append(self.unit_row[node[now]])
        v_parts.append(units[now].astype(float))
        col_pkg = np.unique(col[now] * cp.n_packages + cp.arc_pkg[arcs[now]])
        c_parts.append(col_pkg // cp.n_packages)
        r_parts.append(self.pk_row[cp.pkg_node[col_pkg % cp.n_packages]])
        v_parts.append(np.ones(len(col_pkg)))
        c_parts.append(np.arange(n))
        r_parts.append(self.order_row0 + order)
        v_parts.append(np.ones(n))
        c_all, r_all, v_all = np.concatenate(c_parts), np.concatenate(r_parts), np.concatenate(v_parts)
        ok = r_all >= 0
        key, inv = np.unique(c_all[ok] * self.n_rows + r_all[ok], return_inverse=True)
        value = np.bincount(inv, weights=v_all[ok])
        per_col = np.bincount(key // self.n_rows, minlength=n)
        self.col_start = np.r_[self.col_start, self.col_start[-1] + np.cumsum(per_col)]
        self.col_rows.append(key % self.n_rows)
        self.col_values.append(value.astype(np.float64))
        self.order = np.r_[self.order, order]
        self.cost = np.r_[self.cost, cost]
        self.ptr = np.r_[self.ptr, self.ptr[-1] + np.cumsum(np.bincount(col, minlength=n))]
        self.arcs = np.r_[self.arcs, arcs]
        self.units = np.r_[self.units, units]
        return n

    def matrix(self) -> sp.csc_matrix:
        """The master's coefficients, rows x columns."""
        rows = np.concatenate(self.col_rows) if self.col_rows else np.zeros(0, dtype=np.int64)
        values = np.concatenate(self.col_values) if self.col_values else np.zeros(0)
        self.col_rows, self.col_values = [rows], [values]
        return sp.csc_matrix((values, rows, self.col_start), shape=(self.n_rows, self.n_cols))

    def solve_lp(
        self, time_limit_s: float, cols: IntArray | None = None, upper: FloatArray | None = None
    ) -> tuple[float, Prices, FloatArray, FloatArray] | None:
        """LP optimum: (value, prices, order duals, column values), or None if not solved in time; over
        the columns `cols` only (default: all) and with row limits `upper` (default: the problem's).

        Solved by PDLP, a first-order method that scales to the largest masters (several times faster
        than interior point there, and warm-started from the last solution); its answer is accurate to
        `LP_EPS`, its duals are prices all the same."""
        if time_limit_s <= 0:
            return None
        n = self.n_cols
        cols = np.arange(n) if cols is None else cols
        qp = pdlp.QuadraticProgram()
        qp.resize_and_initialize(len(cols), self.n_rows)
        qp.objective_vector = self.cost[cols].astype(float)
        qp.constraint_lower_bounds = np.full(self.n_rows, -np.inf)
        qp.constraint_upper_bounds = self.upper if upper is None else upper
        qp.variable_lower_bounds = np.zeros(len(cols))
        qp.variable_upper_bounds = np.ones(len(cols))
        qp.constraint_matrix = self.matrix()[:, cols]
        params = solvers_pb2.PrimalDualHybridGradientParams()
        params.num_threads = 2
        criteria = params.termination_criteria
        criteria.simple_optimality_criteria.eps_optimal_relative = LP_EPS
        criteria.simple_optimality_criteria.eps_optimal_absolute = LP_EPS
        criteria.time_sec_limit = time_limit_s
        start = None
        if self.warm is not None:
            x0, y0 = self.warm
            start = pdlp.PrimalAndDualSolution()
            start.primal_solution = np.r_[x0, np.zeros(n - len(x0))][cols]
            start.dual_solution = y0
        result = pdlp.primal_dual_hybrid_gradient(qp, params, initial_solution=start)
        if result.solve_log.iteration_count == 0:
            return None
        x = np.zeros(n)
        x[cols] = result.primal_solution
        y = np.asarray(result.dual_solution)
        self.warm = x, y
        lam = np.maximum(0.0, -y)  # a "<=" row of a minimisation: dual <= 0
        cp = self.cp
        node_packages = np.where(self.pk_row >= 0, lam[np.maximum(self.pk_row, 0)], 0.0)
        node_units = np.where(self.unit_row >= 0, lam[np.maximum(self.unit_row, 0)], 0.0)
        prices = Prices(row=lam[: cp.n_rows], node_packages=node_packages, node_units=node_units)
        value = float(self.cost @ x) + float((cp.line_penalty * cp.line_qty).sum())
        stats = result.solve_log
        log.debug("LP: %d columns, %d iterations, %.1f s", len(cols), stats.iteration_count, stats.solve_time_sec)
        return value, prices, lam[self.order_row0 :], x

    def limits(self, row_left: FloatArray, pk_left: FloatArray, units_left: FloatArray) -> FloatArray:
        """Row limits of the master for the given supply and node capacity left (orders: one each)."""
        upper = self.upper.copy()
        upper[: self.cp.n_rows] = row_left
        upper[self.pk_row[self.pk_row >= 0]] = pk_left[self.pk_row >= 0]
        upper[self.unit_row[self.unit_row >= 0]] = units_left[self.unit_row >= 0]
        return upper

    def solve_integer(
        self, start: FloatArray, fixed: BoolArray, time_limit_s: float, seed: int, stop_s: float
    ) -> tuple[FloatArray, bool] | None:
        """Best 0/1 choice of columns within the time limit, columns `fixed` at their `start` value, and
        whether it is proven best (None if no solution was found). The integer program holds only the
        free columns, on what the fixed ones leave; HiGHS solves it in a forked process that is stopped
        after `stop_s` seconds if it has not stopped by itself."""
        a = self.matrix()
        free = np.flatnonzero(~fixed)
        held = a[:, np.flatnonzero(fixed & (start > 0.5))].sum(axis=1).A1
        sub = a[:, free].tocsc()
        rows = np.unique(sub.indices)  # the rows the free columns touch, renumbered
        renumber = np.zeros(self.n_rows, dtype=np.int32)
        renumber[rows] = np.arange(len(rows), dtype=np.int32)
        h = highs.new_highs()
        h.setOptionValue("random_seed", seed)
        h.setOptionValue("mip_rel_gap", TARGET_GAP)
        none = np.zeros(0, dtype=np.int32)
        upper = np.maximum(self.upper[rows] - held[rows], 0.0)
        h.addRows(len(rows), np.full(len(rows), -highspy.kHighsInf), upper, 0, none, none, [])
        n = len(free)
        h.addCols(
            n,
            self.cost[free].astype(float),
            np.zeros(n),
            np.ones(n),
            len(sub.indices),
            sub.indptr[:-1].astype(np.int32),
            renumber[sub.indices],
            sub.data.astype(float),
        )
        h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger))

        def run() -> tuple[FloatArray, bool] | None:
            highs.set_time_limit(h, time_limit_s)
            highs.run_from(h, start[free], self.cost[free])
            sol = h.getSolution()
            if not sol.value_valid:
                return None
            chosen = np.where(fixed, start, 0.0)
            chosen[free] = np.rint(np.asarray(sol.col_value))
            return chosen, h.getModelStatus() == highspy.HighsModelStatus.kOptimal

        return highs.in_child(run, stop_s)

    def decision(self, j: int) -> list[tuple[int, int]]:
        """(arc, units) of column j."""
        lo, hi = int(self.ptr[j]), int(self.ptr[j + 1])
        return list(zip(self.arcs[lo:hi].tolist(), self.units[lo:hi].tolist(), strict=True))

    def entries(self, cols: IntArray) -> IntArray:
        """Positions in `arcs`/`units` of the given columns' entries."""
        return _ranges(self.ptr[cols], self.ptr[cols + 1] - self.ptr[cols])

    def allocation(self, chosen: FloatArray) -> IntArray:
        """Units per arc of the chosen columns."""
        e = self.entries(np.flatnonzero(chosen > 0.5))
        return np.bincount(self.arcs[e], weights=self.units[e], minlength=self.cp.n_arcs).astype(np.int64)

    def columns_of(self, x: IntArray) -> FloatArray:
        """0/1 per column: the columns that together are allocation `x` (orders not found choose none)."""
        served = np.flatnonzero(x > 0)
        owner = self.cp.line_order[self.cp.arc_line[served]]
        by = np.lexsort((served, owner))
        served, owner = served[by], owner[by]
        cuts = np.flatnonzero(np.diff(owner)) + 1
        start = np.zeros(self.n_cols)
        for arcs, o in zip(np.split(served, cuts), owner[np.r_[0, cuts]].tolist(), strict=False):
            j = self.seen.get(_column_key(o, arcs, x[arcs]))
            if j is not None:
                start[j] = 1.0
        return start


#: New master columns: (order of each column, its cost, then per entry: column, arc, units).
NewColumns = tuple[IntArray, FloatArray, IntArray, IntArray, IntArray]


def _columns_from_allocation(cp: CompiledProblem, x: IntArray) -> NewColumns:
    """Each served order's part of `x` as one column: (order, cost, col, arcs, units)."""
    served = np.flatnonzero(x > 0)
    owner = cp.line_order[cp.arc_line[served]]
    by = np.lexsort((served, owner))
    served, owner = served[by], owner[by]
    order, col = np.unique(owner, return_inverse=True)
    return order, order_costs(cp, x)[order], col, served, x[served]


def _columns_from_patterns(
    cp: CompiledProblem, solver: OrderSolver, orders: IntArray, chosen: IntArray, true_cost: FloatArray
) -> NewColumns:
    """The decisions `chosen` of `orders` as columns: row i holds the patterns of `orders[i]`, -1 padded."""
    rows, slots = np.nonzero(chosen >= 0)
    ks = chosen[rows, slots]
    n_pk = np.bincount(rows, minlength=len(orders))
    cost = np.bincount(rows, weights=true_cost[ks], minlength=len(orders)).astype(np.float64)
    cost += cp.order_split_cost[orders] * np.maximum(n_pk - 1, 0)
    counts = solver.entry_ptr[ks + 1] - solver.entry_ptr[ks]
    e = _ranges(solver.entry_ptr[ks], counts)
    pat = solver.patterns
    return orders, cost, np.repeat(rows, counts).astype(np.int64), pat.entry_arc[e], pat.entry_units[e]


def _arc_left(solver: OrderSolver, row_left: FloatArray) -> FloatArray:
    """Units each arc can still carry: the least left on its supply rows."""
    ptr = solver.arc_row_ptr
    left = np.full(solver.cp.n_arcs, np.inf)
    has = np.diff(ptr) > 0
    left[has] = np.minimum.reduceat(row_left[solver.arc_rows_flat], ptr[:-1][has])
    return left


def _unfit(solver: OrderSolver, arc_left: FloatArray) -> BoolArray:
    """Patterns that put more units on some arc than it can still carry."""
    pat = solver.patterns
    unfit = np.zeros(len(pat.pat_pkg), dtype=np.bool_)
    unfit[pat.entry_pat[pat.entry_units > arc_left[pat.entry_arc]]] = True
    return unfit


class _Residual:
    """An allocation built order by order, and the supply and node capacity it leaves."""

    def __init__(self, cp: CompiledProblem, solver: OrderSolver) -> None:
        self.cp, self.solver = cp, solver
        self.arc_rows = (solver.arc_row_ptr, solver.arc_rows_flat)
        self.row_left = cp.row_cap.astype(float)
        self.pk_left, self.units_left = cp.node_max_packages.copy(), cp.node_max_units.copy()
        self.x = np.zeros(cp.n_arcs, dtype=np.int64)
        self.done = np.zeros(cp.n_orders, dtype=np.bool_)

    def try_take(self, o: int, decision: list[tuple[int, int]]) -> bool:
        """Give order `o` this decision if it fits what is left."""
        if not fits(self.cp, decision, self.row_left, self.pk_left, self.units_left, self.arc_rows):
            return False
        take(self.cp, decision, self.x, self.row_left, self.pk_left, self.units_left, self.arc_rows)
        self.done[o] = True
        return True

    def complete(self, master: Master, lam: FloatArray, fallback: IntArray, deadline: float) -> IntArray:
        """Each order not yet decided takes the first that fits of: its master columns by decreasing
        LP value `lam`, its part of allocation `fallback`, or an exact decision on what is left while
        time remains (until `deadline`, perf_counter)."""
        cp, solver = self.cp, self.solver
        used = np.flatnonzero(lam > DIVE_TOL)
        for j in used[np.argsort(-lam[used], kind="stable")].tolist():
            o = int(master.order[j])
            if not self.done[o]:
                self.try_take(o, master.decision(j))
        orders, _, col, arcs_f, units_f = _columns_from_allocation(cp, fallback)
        starts = np.r_[0, np.cumsum(np.bincount(col, minlength=len(orders)))].tolist()
        for i, o in enumerate(orders.tolist()):
            if not self.done[o]:
                lo, hi = starts[i], starts[i + 1]
                self.try_take(o, list(zip(arcs_f[lo:hi].tolist(), units_f[lo:hi].tolist(), strict=True)))
        pat_cost, unit = solver.pattern_costs(), cp.unit_cost()
        for o in np.flatnonzero(~self.done & solver.searchable).tolist():
            if time.perf_counter() > deadline:
                break
            _, decision = solver.solve(o, pat_cost, unit, self.row_left, self.pk_left, self.units_left)
            take(cp, decision, self.x, self.row_left, self.pk_left, self.units_left, self.arc_rows)
            self.done[o] = True
        return self.x


def _dive(
    cp: CompiledProblem,
    solver: OrderSolver,
    master: Master,
    lam: FloatArray,
    true_cost: FloatArray,
    fallback: IntArray,
    deadline: float,
) -> IntArray:
    """Round the master LP by diving: fix the orders the LP serves whole, and a few of its most
    certain fractional choices, to their columns; re-solve the LP over the other orders on what is left,
    pricing new columns that fit it; repeat. Orders left when time is short (`deadline`, perf_counter)
    are completed by `_Residual.complete`."""
    res = _Residual(cp, solver)
    halfway = time.perf_counter() + 0.5 * (deadline - time.perf_counter())
    while time.perf_counter() < deadline:
        n = master.n_cols
        lam = np.r_[lam, np.zeros(n - len(lam))]
        total = np.bincount(master.order, weights=lam, minlength=cp.n_orders)
        candidates = np.flatnonzero(~res.done[master.order] & (lam > DIVE_TOL))
        whole = lam > 1 - DIVE_TOL
        share = DIVE_SHARE if time.perf_counter() < halfway else DIVE_LATE_SHARE  # coarser when time runs short
        quota = max(int(share * len(np.unique(master.order[candidates[~whole[candidates]]]))), DIVE_MIN_ORDERS)
        taken = False
        for j in candidates[np.argsort(-lam[candidates], kind="stable")].tolist():
            o = int(master.order[j])
            if res.done[o]:
                continue
            if not whole[j]:
                if quota == 0:
                    break
                quota -= 1
            taken |= res.try_take(o, master.decision(j))
        res.done |= ~res.done & (total <= DIVE_TOL)  # the LP leaves these orders unfilled
        if res.done.all() or not taken:
            break
        # Re-solve the LP over the open orders' columns that still fit, on what is left, with new
        # columns that fit it.
        open_orders = np.flatnonzero(~res.done)
        arc_left = _arc_left(solver, res.row_left)
        unfit = _unfit(solver, arc_left)
        upper = master.limits(res.row_left, res.pk_left, res.units_left)
        lp = None
        for round_ in range(DIVE_PRICING_ROUNDS + 1):
            entry_col = np.repeat(np.arange(master.n_cols), np.diff(master.ptr))
            fitting = np.ones(master.n_cols, dtype=np.bool_)
            fitting[entry_col[master.units > arc_left[master.arcs]]] = False
            cols = np.flatnonzero(fitting & ~res.done[master.order])
            lp = master.solve_lp(deadline - time.perf_counter(), cols, upper)
            if lp is None or round_ == DIVE_PRICING_ROUNDS:
                break
            _, prices, mu, lam = lp
            pat_cost = solver.pattern_costs(*priced_costs(cp, prices))
            pat_cost[unfit] = np.inf
            value, chosen_pat, solved = solver.relaxed_all(pat_cost, open_orders)
            better = solved & (value < -mu[open_orders] - REDUCED_COST_TOL)
            if master.add(*_columns_from_patterns(cp, solver, open_orders[better], chosen_pat[better], true_cost)) == 0:
                break
        if lp is None:
            break
        lam = lp[3]
        log.debug("dive: %d orders decided", res.done.sum())
    return res.complete(master, np.r_[lam, np.zeros(master.n_cols - len(lam))], fallback, deadline)


def _order_row_incidence(master: Master) -> sp.csr_matrix:
    """Orders x supply rows: 1 where some column of the order draws on the row."""
    cp = master.cp
    col = np.repeat(np.arange(master.n_cols), np.diff(master.ptr))
    per = np.diff(master.arc_row_ptr)[master.arcs]
    rows = master.arc_rows[_ranges(master.arc_row_ptr[master.arcs], per)]
    orders = master.order[np.repeat(col, per)]
    m = sp.csr_matrix((np.ones(len(rows)), (orders, rows)), shape=(cp.n_orders, cp.n_rows))
    m.data[:] = 1.0
    return m


def _neighbourhood(near: sp.csr_matrix, contested: IntArray, rng: np.random.Generator, size: int) -> BoolArray:
    """About `size` orders around a random contested row, grown row -> orders -> rows breadth first."""
    if size >= near.shape[0]:
        return np.ones(near.shape[0], dtype=np.bool_)
    free = np.zeros(near.shape[0], dtype=np.bool_)
    rows = np.zeros(near.shape[1], dtype=np.bool_)
    near_t = near.T.tocsr()
    while free.sum() < size:
        added = np.flatnonzero((near_t[rows].sum(axis=0).A1 > 0) & ~free)
        if len(added) == 0:  # a closed cluster (or none yet): start from another contested row
            rows[rng.choice(contested)] = True
            added = np.flatnonzero((near_t[rows].sum(axis=0).A1 > 0) & ~free)
            if len(added) == 0:
                break
        want = size - int(free.sum())
        free[rng.permutation(added)[:want] if len(added) > want else added] = True
        rows |= near[free].sum(axis=0).A1 > 0
    return free


def _add_fitting(
    cp: CompiledProblem,
    solver: OrderSolver,
    master: Master,
    x: IntArray,
    free: BoolArray,
    prices: Prices,
    true_cost: FloatArray,
) -> int:
    """Columns for the `free` orders of a neighbourhood that fit the supply the other orders leave in
    allocation `x`: each one's best decision at `prices`, and at no prices."""
    rows, arcs = cp.row_of_arcs()
    held = np.where(free[cp.line_order[cp.arc_line]], 0, x)
    row_left = cp.row_cap.astype(np.float64) - np.bincount(rows, weights=held[arcs], minlength=cp.n_rows)
    unfit = _unfit(solver, _arc_left(solver, row_left))
    orders = np.flatnonzero(free)
    added = 0
    for pat_cost in (solver.pattern_costs(*priced_costs(cp, prices)), true_cost.copy()):
        pat_cost[unfit] = np.inf
        value, chosen, solved = solver.relaxed_all(pat_cost, orders)
        better = solved & (value < 0)
        added += master.add(*_columns_from_patterns(cp, solver, orders[better], chosen[better], true_cost))
    return added


def _add_alternatives(
    cp: CompiledProblem, solver: OrderSolver, master: Master, prices: Prices, true_cost: FloatArray
) -> int:
    """Columns for the integer master: each order's best priced decision using none of the packages of
    its columns so far (the LP needs few columns; an integer answer often needs others)."""
    forbidden = np.zeros(cp.n_packages, dtype=np.bool_)
    forbidden[cp.arc_pkg[master.arcs]] = True  # a package belongs to one order
    arc_price, pkg_price = priced_costs(cp, prices)
    pat_cost = solver.pattern_costs(arc_price, pkg_price)
    pat_cost[forbidden[solver.patterns.pat_pkg]] = np.inf
    value, chosen, solved = solver.relaxed_all(pat_cost)
    better = np.flatnonzero(solved & (value < 0))
    return master.add(*_columns_from_patterns(cp, solver, better, chosen[better], true_cost))


@dataclass(frozen=True, eq=False)
class _Generated:
    """Where column generation stopped: the best certified bound and its prices, the last LP's prices
    and column values."""

    bound: float
    prices_best: Prices | None
    prices: Prices
    lam: FloatArray


def _generate_columns(
    cp: CompiledProblem,
    solver: OrderSolver,
    master: Master,
    true_cost: FloatArray,
    cost_best: float,
    until: float,
) -> _Generated:
    """Alternate the master LP and exact pricing of every order until the LP is solved over all
    decisions (or close to the bound, or the gap to `cost_best` is closed) or `until` (perf_counter)."""
    bound, prices_best = -np.inf, None
    prices = Prices(np.zeros(cp.n_rows), np.zeros(cp.n_nodes), np.zeros(cp.n_nodes))
    mu = np.zeros(cp.n_orders)
    lam = np.zeros(master.n_cols)
    lp_value = np.inf
    lg = lagrangian(cp, prices, solver)
    while True:
        # Every order re-solved exactly at the current prices: a certified bound, and new columns.
        if lg.bound > bound:
            bound, prices_best = lg.bound, prices
        if cost_best - bound <= TARGET_GAP * abs(cost_best) or lp_value - bound <= LP_CONVERGED * abs(bound):
            break
        if time.perf_counter() > until:
            break
        better = np.flatnonzero(lg.solved & (lg.value < -mu - REDUCED_COST_TOL))
        if master.add(*_columns_from_patterns(cp, solver, better, lg.chosen[better], true_cost)) == 0:
            break  # no column improves: the LP over all decisions is solved
        lp = master.solve_lp(until - time.perf_counter())
        if lp is None:
            break
        lp_value, prices, mu, lam = lp
        lg = lagrangian(cp, prices, solver)
        log.debug("pricing: %d columns, LP %.2f, bound %.2f", master.n_cols, lp_value, max(bound, lg.bound))
    return _Generated(bound, prices_best, prices, np.r_[lam, np.zeros(master.n_cols - len(lam))])


def solve_large(cp: CompiledProblem, *, time_limit_s: float = 60.0, seed: int = 0) -> Solution:
    """Near-optimal allocation of a large batch within `time_limit_s`, with a certified lower bound."""
    start = time.perf_counter()
    deadline = start + time_limit_s

    def left() -> float:
        return deadline - time.perf_counter()

    # Anytime: the rule chain is the answer until something better is found; a deadline that ends before
    # the pricing can start returns it as it is, without a bound.
    first = shopify_default(cp)
    x_best, cost_best = first.x, first.objective

    def rule_chain() -> Solution:
        return Solution(first.x, "large", "feasible", first.objective, None, time.perf_counter() - start, seed)

    if left() <= 0:
        return rule_chain()
    solver = OrderSolver(cp)
    master = Master(cp)
    master.add(*_columns_from_allocation(cp, x_best))
    true_cost = solver.pattern_costs()
    if left() <= 0:
        return rule_chain()
    cg = _generate_columns(cp, solver, master, true_cost, cost_best, deadline - PRIMAL_SHARE * time_limit_s)
    bound, prices_best, prices, lam = cg.bound, cg.prices_best, cg.prices, cg.lam
    for _ in range(ALTERNATIVES):
        if left() > 0:
            _add_alternatives(cp, solver, master, prices, true_cost)
    lam = np.r_[lam, np.zeros(master.n_cols - len(lam))]

    check_s = 0.0  # the time a full check of an allocation takes (kept free for the last one)
    if left() > 0.5:
        x = _dive(cp, solver, master, lam, true_cost, x_best, deadline - 0.5 * left())
        checking = time.perf_counter()
        cost = evaluate(cp, x).total
        better = not violations(cp, x) and cost < cost_best - EPS
        check_s = time.perf_counter() - checking
        if better:
            x_best, cost_best = x, cost
            master.add(*_columns_from_allocation(cp, x_best))
    log.debug("rounded: %.1f s, cost %.2f, bound %.2f", time.perf_counter() - start, cost_best, bound)
    # Large neighbourhood search on the integer master: free some orders, fix the others at the
    # incumbent, solve exactly; first the orders the LP does not settle, then around contested rows.
    lam = np.r_[lam, np.zeros(master.n_cols - len(lam))]
    incumbent = master.columns_of(x_best)
    settled = np.zeros(cp.n_orders, dtype=np.bool_)
    settled[master.order[(np.abs(lam - 1.0) < 1e-6) & (incumbent > 0.5)]] = True
    free = ~settled
    log.debug("%d orders settled by the LP, %d not", settled.sum(), free.sum())
    rng = np.random.default_rng(seed)
    size = NEIGHBOURHOOD_ORDERS
    if free.sum() > size:  # too many to solve within a neighbourhood's time: HiGHS may not stop in time
        free[rng.permutation(np.flatnonzero(free))[size:]] = False
    near = _order_row_incidence(master)
    contested = np.flatnonzero(prices_best.row > 0) if prices_best is not None else np.zeros(0, dtype=np.int64)
    # The search compares allocations by their columns' costs (each column's cost is its order's exact
    # cost); the best one is checked in full once, at the end.
    x_checked, cost_checked = x_best, cost_best
    overhead = 0.0  # the longest time a neighbourhood took beyond its integer program
    while left() > 2.0 + overhead + check_s and cost_best - bound > TARGET_GAP * abs(cost_best):
        began = time.perf_counter()
        if not free.all():
            _add_fitting(cp, solver, master, x_best, free, prices_best or prices, true_cost)
            incumbent = np.r_[incumbent, np.zeros(master.n_cols - len(incumbent))]
        # A neighbourhood that runs over keeps its answer, unless it would run past the deadline.
        reserve = overhead + check_s
        budget = min(left() - 1.5 - reserve, NEIGHBOURHOOD_S)
        solving = time.perf_counter()
        found = master.solve_integer(
            incumbent, ~free[master.order], budget, seed, min(2 * budget + 1.0, left() - 0.5 - reserve)
        )
        solved_in = time.perf_counter() - solving
        if found is not None:
            gain = float(master.cost @ incumbent - master.cost @ found[0])
            if gain > EPS:
                incumbent, cost_best = found[0], cost_best - gain
                x_best = master.allocation(incumbent)
        log.debug(
            "neighbourhood of %d orders: %.1f s, %s, cost %.2f",
            free.sum(),
            time.perf_counter() - start,
            "none" if found is None else ("proven" if found[1] else "stopped"),
            cost_best,
        )
        if found is not None and found[1] and free.all():
            # The integer master is solved: only new columns can do better.
            if _add_alternatives(cp, solver, master, prices_best or prices, true_cost) == 0:
                break
            incumbent = np.r_[incumbent, np.zeros(master.n_cols - len(incumbent))]
            continue
        # Neighbourhoods grow while they are solved quickly, and shrink when they run out of time.
        if found is not None and found[1] and solved_in < budget / 3:  # solved fast
            size = min(int(1.25 * size), MAX_NEIGHBOURHOOD_ORDERS)
        elif found is None or not found[1] or solved_in > budget:
            size = max(int(0.8 * size), 50)
        if len(contested) == 0:
            break
        free = _neighbourhood(near, contested, rng, size)
        overhead = max(overhead, time.perf_counter() - began - solved_in)
    if x_best is not x_checked:
        if violations(cp, x_best):  # never expected: the master keeps every row
            log.warning("the neighbourhood search broke a limit; its allocation is dropped")
            x_best, cost_best = x_checked, cost_checked
        else:
            cost_best = evaluate(cp, x_best).total
    certified = prices_best is not None and np.isfinite(bound)
    status = "optimal" if certified and cost_best - bound <= 1e-4 * abs(cost_best) else "feasible"
    return Solution(
        x=x_best,
        solver="large",
        status=status,
        objective=cost_best,
        bound=min(float(bound), cost_best) if certified else None,
        runtime_s=time.perf_counter() - start,
        seed=seed,
        prices=prices_best if certified else None,
    )
