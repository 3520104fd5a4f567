"""Exact allocation of one order on current stock: the real-time path, without a MIP solver.

Branch and bound over the order's candidate packages, each taking one of its possible contents
(patterns, priced exactly) or nothing; a bound from the cheapest unit cost prunes the search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.mip import arc_capacity, enumerate_patterns
from solvers.problem import CompiledProblem, IntArray
from solvers.solution import EPS, Solution, evaluate

#: Packages with more possible contents than this are searched unit by unit instead.
SINGLE_PATTERN_LIMIT = 4096


@dataclass
class _Search:
    """State of the depth-first search for one order."""

    pkgs: list[int]  # candidate packages, most promising first
    options: list[list[tuple[float, dict[int, int]]]]  # per package: (cost, units per arc) of each content
    arc_line: IntArray
    arc_rows: list[IntArray]  # rows of each arc
    row_left: dict[int, int]
    need: dict[int, int]  # units still unassigned per line
    split_cost: float
    max_packages: int
    all_or_nothing: bool
    now: list[bool]
    node: list[int]
    pk_left: dict[int, float]
    units_left: dict[int, float]
    rest_bound: list[dict[int, float]]  # per depth: best net unit cost per line over packages from it on
    best_cost: float
    best: dict[int, int]
    chosen: dict[int, int]
    visits: int = 0

    def bound(self, depth: int, cost: float) -> float:
        rest = self.rest_bound[depth] if depth < len(self.rest_bound) else {}
        return cost + sum(n * min(0.0, rest.get(line, 0.0)) for line, n in self.need.items())

    def fits(self, depth: int, content: dict[int, int]) -> bool:
        per_row: dict[int, int] = {}
        for arc, units in content.items():
            if units > self.need[int(self.arc_line[arc])]:
                return False
            for r in self.arc_rows[arc].tolist():
                per_row[r] = per_row.get(r, 0) + units
        if any(self.row_left[r] < units for r, units in per_row.items()):
            return False
        if self.now[depth]:
            n = self.node[depth]
            if self.pk_left[n] < 1 or self.units_left[n] < sum(content.values()):
                return False
        return True

    def apply(self, depth: int, content: dict[int, int], sign: int) -> None:
        for arc, units in content.items():
            self.need[int(self.arc_line[arc])] -= sign * units
            for r in self.arc_rows[arc].tolist():
                self.row_left[r] -= sign * units
        if self.now[depth]:
            n = self.node[depth]
            self.pk_left[n] -= sign
            self.units_left[n] -= sign * sum(content.values())

    def run(self, depth: int, cost: float, opened: int) -> None:
        self.visits += 1
        if self.bound(depth, cost) >= self.best_cost - EPS:
            return
        complete = all(n == 0 for n in self.need.values())
        if cost < self.best_cost - EPS and (not self.all_or_nothing or complete or not self.chosen):
            self.best_cost, self.best = cost, dict(self.chosen)
        if depth == len(self.pkgs) or complete:
            return
        if opened < self.max_packages:
            extra = self.split_cost if opened >= 1 else 0.0
            for pat_cost, content in self.options[depth]:
                if self.fits(depth, content):
                    self.apply(depth, content, +1)
                    self.chosen.update(content)
                    self.run(depth + 1, cost + pat_cost + extra, opened + 1)
                    for arc in content:
                        del self.chosen[arc]
                    self.apply(depth, content, -1)
        self.run(depth + 1, cost, opened)


def single_fits(cp: CompiledProblem) -> bool:
    """Whether every package of a one-order problem has few enough contents for the exact search."""
    return bool(enumerate_patterns(cp, arc_capacity(cp), limit=SINGLE_PATTERN_LIMIT).by_pattern.all())


def solve_single(cp: CompiledProblem) -> Solution:
    """Exact allocation of a problem with one order (the real-time call)."""
    start = time.perf_counter()
    if cp.n_orders != 1:
        raise ValueError(f"the single-order path takes one order, got {cp.n_orders}")
    arc_cap = arc_capacity(cp)
    pat = enumerate_patterns(cp, arc_cap, limit=SINGLE_PATTERN_LIMIT)
    rows, arcs = cp.row_of_arcs()
    by_arc = np.argsort(arcs, kind="stable")
    arc_ptr = np.r_[0, np.cumsum(np.bincount(arcs, minlength=cp.n_arcs))]
    arc_rows = [rows[by_arc][arc_ptr[a] : arc_ptr[a + 1]] for a in range(cp.n_arcs)]
    if not pat.by_pattern.all():
        raise ValueError("an order with this many possible package contents needs the MIP")
    unit = cp.unit_cost()
    options: dict[int, list[tuple[float, dict[int, int]]]] = {int(p): [] for p in range(cp.n_packages)}
    contents: dict[int, dict[int, int]] = {}
    for k, a, u in zip(pat.entry_pat.tolist(), pat.entry_arc.tolist(), pat.entry_units.tolist(), strict=True):
        contents.setdefault(k, {})[a] = u
    for k, p in enumerate(pat.pat_pkg.tolist()):
        options[p].append((float(pat.pat_cost[k]), contents[k]))
    for opts in options.values():
        opts.sort(key=lambda o: o[0])
    # Most promising packages first: cheapest net cost per unit of their best content.
    pkgs = sorted(options, key=lambda p: min((c / sum(ct.values()) for c, ct in options[p]), default=0.0))
    rest: list[dict[int, float]] = []
    acc: dict[int, float] = {}
    for p in reversed(pkgs):
        for a in np.flatnonzero(cp.arc_pkg == p).tolist():
            line = int(cp.arc_line[a])
            acc[line] = min(acc.get(line, 0.0), float(unit[a]))
        rest.append(dict(acc))
    rest.reverse()
    search = _Search(
        pkgs=pkgs,
        options=[options[p] for p in pkgs],
        arc_line=cp.arc_line,
        arc_rows=arc_rows,
        row_left={r: int(c) for r, c in enumerate(cp.row_cap.tolist())},
        need={line: int(q) for line, q in enumerate(cp.line_qty.tolist())},
        split_cost=float(cp.order_split_cost[0]),
        max_packages=int(cp.order_max_packages[0]),
        all_or_nothing=bool(cp.order_all_or_nothing[0]),
        now=[bool(cp.pkg_wait_days[p] == 0) for p in pkgs],
        node=[int(cp.pkg_node[p]) for p in pkgs],
        pk_left={n: float(v) for n, v in enumerate(cp.node_max_packages.tolist())},
        units_left={n: float(v) for n, v in enumerate(cp.node_max_units.tolist())},
        rest_bound=rest,
        best_cost=np.inf,
        best={},
        chosen={},
    )
    search.run(0, 0.0, 0)
    x = np.zeros(cp.n_arcs, dtype=np.int64)
    for arc, units in search.best.items():
        x[arc] = units
    total = evaluate(cp, x).total
    return Solution(
        x=x, solver="single", status="optimal", objective=total, bound=total, runtime_s=time.perf_counter() - start
    )
