"""Exact per-order subproblems: the best decision for one order given prices and what is left.

Branch and bound over the order's candidate packages, each taking one of its possible contents
(patterns, priced exactly) or nothing. It is the real-time path for one order, the Lagrangian
subproblem (with prices on stock and capacity) and the building block of sequential methods.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numba
import numpy as np

from solvers.mip import Patterns, arc_capacity, enumerate_patterns, offsets
from solvers.problem import BoolArray, CompiledProblem, FloatArray, IntArray
from solvers.solution import EPS, Solution, evaluate, violations

#: Packages with more possible contents than this make an order too large for the search.
ORDER_PATTERN_LIMIT = 4096
#: Largest dynamic program (states x contents) solved per order.
DP_WORK_LIMIT = 20_000_000


@dataclass
class _Search:
    """State of the depth-first search for one order."""

    options: list[list[tuple[float, list[tuple[int, int]]]]]  # per package: (cost, [(arc, units)])
    now_node: list[int]  # node of each package if it ships now, else -1
    line_of: dict[int, int]  # arc -> line
    arc_rows: dict[int, list[int]]
    row_left: dict[int, float]
    need: dict[int, int]  # units still unassigned per line
    split_cost: float
    max_packages: int
    all_or_nothing: bool
    pk_left: dict[int, float]
    units_left: dict[int, float]
    rest_bound: list[dict[int, float]]  # per depth: best unit cost per line over packages from it on
    budget: int = 200_000  # search nodes left; at 0 the search stops with the best found so far
    best_cost: float = 0.0
    best: list[tuple[int, int]] = field(default_factory=list)
    chosen: list[tuple[int, int]] = field(default_factory=list)

    def bound(self, depth: int, cost: float) -> float:
        rest = self.rest_bound[depth]
        return cost + sum(n * min(0.0, rest.get(line, 0.0)) for line, n in self.need.items())

    def fits(self, depth: int, content: list[tuple[int, int]]) -> bool:
        per_row: dict[int, int] = {}
        units = 0
        for arc, c in content:
            if c > self.need[self.line_of[arc]]:
                return False
            units += c
            for r in self.arc_rows[arc]:
                per_row[r] = per_row.get(r, 0) + c
        if any(self.row_left[r] < c for r, c in per_row.items()):
            return False
        n = self.now_node[depth]
        return n < 0 or (self.pk_left[n] >= 1 and self.units_left[n] >= units)

    def apply(self, depth: int, content: list[tuple[int, int]], sign: int) -> None:
        units = 0
        for arc, c in content:
            self.need[self.line_of[arc]] -= sign * c
            units += c
            for r in self.arc_rows[arc]:
                self.row_left[r] -= sign * c
        n = self.now_node[depth]
        if n >= 0:
            self.pk_left[n] -= sign
            self.units_left[n] -= sign * units

    def run(self, depth: int, cost: float, opened: int) -> None:
        self.budget -= 1
        if self.budget < 0 or self.bound(depth, cost) >= self.best_cost - EPS:
            return
        complete = all(n == 0 for n in self.need.values())
        if cost < self.best_cost - EPS and (not self.all_or_nothing or complete or not self.chosen):
            self.best_cost, self.best = cost, list(self.chosen)
        if depth == len(self.options) or complete:
            return
        if opened < self.max_packages:
            extra = self.split_cost if opened >= 1 else 0.0
            for pat_cost, content in self.options[depth]:
                if self.fits(depth, content):
                    self.apply(depth, content, +1)
                    self.chosen.extend(content)
                    self.run(depth + 1, cost + pat_cost + extra, opened + 1)
                    del self.chosen[len(self.chosen) - len(content) :]
                    self.apply(depth, content, -1)
        self.run(depth + 1, cost, opened)


class OrderSolver:
    """Solves the per-order subproblems of one compiled problem exactly, one order at a time."""

    def __init__(self, cp: CompiledProblem, limit: int = ORDER_PATTERN_LIMIT) -> None:
        self.cp = cp
        self.patterns: Patterns = enumerate_patterns(cp, arc_capacity(cp), limit=limit)
        pat = self.patterns
        self.pkg_ptr = offsets(np.bincount(cp.pkg_order, minlength=cp.n_orders))
        self.pat_ptr = pat.pat_ptr
        self.entry_ptr = offsets(np.bincount(pat.entry_pat, minlength=len(pat.pat_pkg)))
        self.line_ptr = offsets(np.bincount(cp.line_order, minlength=cp.n_orders))
        #: Position of each pattern entry's line within its order.
        self.entry_line = cp.arc_line[pat.entry_arc] - self.line_ptr[cp.line_order[cp.arc_line[pat.entry_arc]]]
        order_small = np.bincount(cp.pkg_order, weights=~pat.by_pattern, minlength=cp.n_orders) == 0
        self.searchable: np.ndarray = order_small
        self._contents: tuple[list[int], list[int], list[int]] | None = None
        #: Whether the last `solve` finished its search (else it returned the best found in its budget).
        self.last_exact = True

    # Built on first use, as only the search needs them: most single orders are settled by the relaxation.
    @functools.cached_property
    def arc_ptr(self) -> IntArray:
        """The arcs of order o are arc_ptr[o]:arc_ptr[o + 1]."""
        cp = self.cp
        return offsets(np.bincount(cp.pkg_order[cp.arc_pkg], minlength=cp.n_orders))

    @functools.cached_property
    def _rows_by_arc(self) -> tuple[IntArray, IntArray]:
        return self.cp.rows_by_arc()

    @property
    def arc_row_ptr(self) -> IntArray:
        """The supply rows of arc a are `arc_rows_flat[arc_row_ptr[a]:arc_row_ptr[a + 1]]`."""
        return self._rows_by_arc[0]

    @property
    def arc_rows_flat(self) -> IntArray:
        return self._rows_by_arc[1]

    def pattern_costs(self, arc_price: FloatArray | None = None, pkg_price: FloatArray | None = None) -> FloatArray:
        """Cost of every pattern plus the prices of the units (per arc) and package (per package) it uses."""
        pat = self.patterns
        cost = pat.pat_cost.copy()
        if arc_price is not None:
            cost += np.bincount(pat.entry_pat, weights=pat.entry_units * arc_price[pat.entry_arc], minlength=len(cost))
        if pkg_price is not None:
            cost += pkg_price[pat.pat_pkg]
        return cost

    def contents(self, k: int) -> list[tuple[int, int]]:
        """(arc, units) of pattern k."""
        if self._contents is None:
            pat = self.patterns
            self._contents = (pat.entry_arc.tolist(), pat.entry_units.tolist(), self.entry_ptr.tolist())
        arcs, units, ptr = self._contents
        lo, hi = ptr[k], ptr[k + 1]
        return list(zip(arcs[lo:hi], units[lo:hi], strict=True))

    def solve_relaxed(self, o: int, pat_cost: FloatArray) -> tuple[float, list[tuple[int, int]]]:
        """Cheapest decision for order `o` ignoring supply rows and node capacity shared between its
        own packages (each content still fits its arcs). Without those shared limits it is a
        relaxation, so its cost is a valid lower bound for the order."""
        cost, chosen, _ = self.relaxed_all(pat_cost, np.array([o], dtype=np.int64))
        return float(cost[0]), self.decision(chosen[0])

    def relaxed_all(
        self, pat_cost: FloatArray, orders: IntArray | None = None, work_limit: float = DP_WORK_LIMIT
    ) -> tuple[FloatArray, IntArray, BoolArray]:
        """`solve_relaxed` for many orders at once: (cost, chosen patterns padded with -1, solved).

        Orders whose dynamic program exceeds `work_limit` (or with packages not modelled by
        pattern) are not solved: their cost is 0 and `solved` is False."""
        cp = self.cp
        if orders is None:
            orders = np.arange(cp.n_orders, dtype=np.int64)
        n_pkg = (self.pkg_ptr[orders + 1] - self.pkg_ptr[orders]).astype(np.int64)
        width = int(np.minimum(cp.order_max_packages[orders], n_pkg).max(initial=1))
        cost = np.zeros(len(orders))
        chosen = np.full((len(orders), max(width, 1)), -1, dtype=np.int64)
        solved = self.searchable[orders].copy()
        _relaxed_dp(
            orders,
            solved,
            self.line_ptr,
            cp.line_qty,
            self.pkg_ptr,
            self.pat_ptr,
            self.entry_ptr,
            self.entry_line,
            self.patterns.entry_units,
            pat_cost,
            cp.order_max_packages,
            cp.order_split_cost,
            cp.order_all_or_nothing,
            float(work_limit),
            cost,
            chosen,
        )
        return cost, chosen, solved

    def decision(self, patterns: IntArray) -> list[tuple[int, int]]:
        """(arc, units) of the chosen patterns (-1 entries ignored)."""
        return [entry for k in patterns.tolist() if k >= 0 for entry in self.contents(k)]

    def solve(
        self,
        o: int,
        pat_cost: FloatArray,
        unit: FloatArray,
        row_left: FloatArray,
        pk_left: FloatArray,
        units_left: FloatArray,
    ) -> tuple[float, list[tuple[int, int]]]:
        """Cheapest decision for order `o` as (cost, [(arc, units)]); cost is net of the unfilled penalty
        (0: all unfilled). `pat_cost` and `unit` are the (priced) pattern and per-unit arc costs; the
        decision stays within the supply per row and node capacity left."""
        cp = self.cp
        if not self.searchable[o]:
            raise ValueError(f"order {o} has packages with more than {ORDER_PATTERN_LIMIT} possible contents")
        pkgs = list(range(int(self.pkg_ptr[o]), int(self.pkg_ptr[o + 1])))
        pat_ptr = self.pat_ptr
        options = [
            sorted(
                ((float(pat_cost[k]), self.contents(k)) for k in range(int(pat_ptr[p]), int(pat_ptr[p + 1]))),
                key=lambda t: t[0],
            )
            for p in pkgs
        ]

        # Most promising packages first: the cheapest cost per unit of their best content.
        def promise(i: int) -> float:
            return min((c / sum(u for _, u in ct) for c, ct in options[i]), default=0.0)

        order = sorted(range(len(pkgs)), key=promise)
        options = [options[i] for i in order]
        pkgs = [pkgs[i] for i in order]
        lo, hi = int(self.arc_ptr[o]), int(self.arc_ptr[o + 1])
        arc_line = dict(zip(range(lo, hi), cp.arc_line[lo:hi].tolist(), strict=True))
        ptr, flat = self.arc_row_ptr, self.arc_rows_flat
        arc_rows = {a: flat[ptr[a] : ptr[a + 1]].tolist() for a in range(lo, hi)}
        # Bound: every unit a content carries is charged the content's cost per unit, so the rest of an
        # order costs at least, per line, its units times the cheapest such charge still available.
        rest: list[dict[int, float]] = [{}]
        acc: dict[int, float] = {}
        for opts in reversed(options):
            for c, content in opts:
                charge = c / sum(u for _, u in content)
                for arc, _ in content:
                    line = arc_line[arc]
                    if charge < acc.get(line, 0.0):
                        acc[line] = charge
            rest.append(dict(acc))
        rest.reverse()
        del unit  # the charge per unit above already includes every per-unit cost
        search = _Search(
            options=options,
            now_node=[int(cp.pkg_node[p]) if cp.pkg_wait_days[p] == 0 else -1 for p in pkgs],
            line_of=arc_line,
            arc_rows=arc_rows,
            row_left={r: float(row_left[r]) for rs in arc_rows.values() for r in rs},
            need={line: int(cp.line_qty[line]) for line in range(int(self.line_ptr[o]), int(self.line_ptr[o + 1]))},
            split_cost=float(cp.order_split_cost[o]),
            max_packages=int(cp.order_max_packages[o]),
            all_or_nothing=bool(cp.order_all_or_nothing[o]),
            pk_left={int(cp.pkg_node[p]): float(pk_left[cp.pkg_node[p]]) for p in pkgs},
            units_left={int(cp.pkg_node[p]): float(units_left[cp.pkg_node[p]]) for p in pkgs},
            rest_bound=rest,
        )
        search.run(0, 0.0, 0)
        self.last_exact = search.budget >= 0
        return search.best_cost, search.best


def take(
    cp: CompiledProblem,
    decision: list[tuple[int, int]],
    x: IntArray,
    row_left: FloatArray,
    pk_left: FloatArray,
    units_left: FloatArray,
    arc_rows: tuple[IntArray, IntArray],
) -> None:
    """Write an order's decision into `x` and draw its units and packages from what is left."""
    ptr, flat = arc_rows
    pkgs_now: set[int] = set()
    for arc, units in decision:
        x[arc] += units
        row_left[flat[ptr[arc] : ptr[arc + 1]]] -= units
        p = int(cp.arc_pkg[arc])
        if cp.pkg_wait_days[p] == 0:
            units_left[cp.pkg_node[p]] -= units
            pkgs_now.add(p)
    for p in pkgs_now:
        pk_left[cp.pkg_node[p]] -= 1


def solve_single(cp: CompiledProblem) -> Solution:
    """Exact allocation of a problem with one order (the real-time call)."""
    start = time.perf_counter()
    if cp.n_orders != 1:
        raise ValueError(f"the single-order path takes one order, got {cp.n_orders}")
    solver = OrderSolver(cp)
    if not solver.searchable[0]:
        raise ValueError("an order with this many possible package contents needs the MIP")
    pat_cost = solver.pattern_costs()
    x = np.zeros(cp.n_arcs, dtype=np.int64)
    exact = True
    # The relaxation's optimum is the order's optimum whenever it respects the shared limits too (an
    # order too large for its dynamic program gets no decision from it, and is searched below).
    for arc, units in solver.solve_relaxed(0, pat_cost)[1]:
        x[arc] += units
    if not x.any() or violations(cp, x):
        x[:] = 0
        args = (cp.unit_cost(), cp.row_cap.astype(float), cp.node_max_packages, cp.node_max_units)
        for arc, units in solver.solve(0, pat_cost, *args)[1]:
            x[arc] += units
        exact = solver.last_exact
    total = evaluate(cp, x).total
    return Solution(
        x=x,
        solver="single",
        status="optimal" if exact else "feasible",  # a search cut short by its budget proves nothing
        objective=total,
        bound=total if exact else None,
        runtime_s=time.perf_counter() - start,
    )


def fits(
    cp: CompiledProblem,
    decision: list[tuple[int, int]],
    row_left: FloatArray,
    pk_left: FloatArray,
    units_left: FloatArray,
    arc_rows: tuple[IntArray, IntArray],
) -> bool:
    """Whether an order's decision fits the supply and node capacity left."""
    ptr, flat = arc_rows
    need_rows: dict[int, int] = {}
    need_units: dict[int, int] = {}
    pkgs_now: set[int] = set()
    for arc, units in decision:
        for r in flat[ptr[arc] : ptr[arc + 1]].tolist():
            need_rows[r] = need_rows.get(r, 0) + units
        p = int(cp.arc_pkg[arc])
        if cp.pkg_wait_days[p] == 0:
            n = int(cp.pkg_node[p])
            need_units[n] = need_units.get(n, 0) + units
            pkgs_now.add(p)
    need_pk: dict[int, int] = {}
    for p in pkgs_now:
        need_pk[int(cp.pkg_node[p])] = need_pk.get(int(cp.pkg_node[p]), 0) + 1
    return (
        all(row_left[r] >= u for r, u in need_rows.items())
        and all(units_left[n] >= u for n, u in need_units.items())
        and all(pk_left[n] >= k for n, k in need_pk.items())
    )


@numba.njit(cache=True)
def _relaxed_dp(
    orders: IntArray,
    solved: BoolArray,
    line_ptr: IntArray,
    line_qty: IntArray,
    pkg_ptr: IntArray,
    pat_ptr: IntArray,
    entry_ptr: IntArray,
    entry_line: IntArray,
    entry_units: IntArray,
    pat_cost: FloatArray,
    max_packages: IntArray,
    split_cost: FloatArray,
    all_or_nothing: BoolArray,
    work_limit: float,
    out_cost: FloatArray,
    out_chosen: IntArray,
) -> None:  # pragma: no cover - compiled
    """Dynamic program over each order's packages: the state is the units still needed per line (a
    mixed-radix number) and the packages opened so far; each package is skipped or takes one content."""
    for i in range(len(orders)):
        if not solved[i]:
            continue
        o = orders[i]
        l0, n_lines = line_ptr[o], line_ptr[o + 1] - line_ptr[o]
        radix = np.ones(n_lines, dtype=np.int64)
        n_need = 1
        for j in range(n_lines):
            radix[j] = n_need
            n_need *= line_qty[l0 + j] + 1
        p0, n_pkg = pkg_ptr[o], pkg_ptr[o + 1] - pkg_ptr[o]
        top = min(max_packages[o], n_pkg)
        n_pat = pat_ptr[p0 + n_pkg] - pat_ptr[p0]
        if float(n_need) * (top + 1) * max(n_pat, 1) > work_limit:
            solved[i] = False
            continue
        size = (top + 1) * n_need
        cost = np.full(size, np.inf)
        cost[n_need - 1] = 0.0  # every unit needed, nothing opened
        choice = np.full((n_pkg, size), -1, dtype=np.int64)
        prev = np.empty((n_pkg, size), dtype=np.int64)
        for t in range(n_pkg):
            new = cost.copy()
            for m in range(top):
                extra = split_cost[o] if m >= 1 else 0.0
                for s in range(n_need):
                    c0 = cost[m * n_need + s]
                    if c0 == np.inf:
                        continue
                    for k in range(pat_ptr[p0 + t], pat_ptr[p0 + t + 1]):
                        delta = 0
                        fits = True
                        for e in range(entry_ptr[k], entry_ptr[k + 1]):
                            li = entry_line[e]
                            if entry_units[e] > (s // radix[li]) % (line_qty[l0 + li] + 1):
                                fits = False
                                break
                            delta += entry_units[e] * radix[li]
                        if not fits:
                            continue
                        j = (m + 1) * n_need + s - delta
                        c = c0 + pat_cost[k] + extra
                        if c < new[j] - 1e-12:
                            new[j] = c
                            choice[t, j] = k
                            prev[t, j] = m * n_need + s
            cost = new
        best, at = 0.0, -1
        for j in range(size):
            if all_or_nothing[o] and j % n_need != 0:
                continue  # all-or-nothing: every line in full (or nothing, the empty decision)
            if cost[j] < best - 1e-12:
                best, at = cost[j], j
        out_cost[i] = best
        n = 0
        for t in range(n_pkg - 1, -1, -1):
            if at < 0:
                break
            if choice[t, at] >= 0:
                out_chosen[i, n] = choice[t, at]
                n += 1
                at = prev[t, at]
