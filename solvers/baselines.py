"""Rule-chain baselines, the way commerce platforms route today, with the solvers' result type.

Orders are taken one at a time in the given sequence and never revisited: `shopify-default` (fewest
packages, then same country, then closest), `nearest` (per line, closest node with stock) and `ranked`
(per line, a fixed node priority). All honour the same hard constraints as the MIP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.problem import CompiledProblem, IntArray
from solvers.solution import Solution, evaluate

#: Ranks the candidate packages of one order: a sort key per package index.
PackageKey = Callable[[CompiledProblem, int], tuple[float, ...]]


@dataclass
class _State:
    """Supply and capacity left while the rule chain walks through the orders."""

    cp: CompiledProblem
    row_left: IntArray
    arc_ptr: IntArray
    arc_rows: IntArray
    pk_left: np.ndarray
    units_left: np.ndarray

    @classmethod
    def start(cls, cp: CompiledProblem) -> _State:
        arc_ptr, arc_rows = cp.rows_by_arc()
        return cls(cp, cp.row_cap.copy(), arc_ptr, arc_rows, cp.node_max_packages.copy(), cp.node_max_units.copy())

    def room(self, arc: int) -> int:
        rows = self.arc_rows[self.arc_ptr[arc] : self.arc_ptr[arc + 1]]
        left = float(self.row_left[rows].min()) if len(rows) else 0.0
        pkg = self.cp.arc_pkg[arc]
        if self.cp.pkg_wait_days[pkg] == 0:
            left = min(left, self.units_left[self.cp.pkg_node[pkg]])
        return int(max(0.0, left))

    def can_take(self, units_per_arc: list[tuple[int, int]]) -> bool:
        """Whether all these units fit together in what is left (rows and node units are shared)."""
        per_row: dict[int, int] = {}
        per_node: dict[int, int] = {}
        for arc, units in units_per_arc:
            for r in self.arc_rows[self.arc_ptr[arc] : self.arc_ptr[arc + 1]].tolist():
                per_row[r] = per_row.get(r, 0) + units
            pkg = self.cp.arc_pkg[arc]
            if self.cp.pkg_wait_days[pkg] == 0:
                node = int(self.cp.pkg_node[pkg])
                per_node[node] = per_node.get(node, 0) + units
        return all(self.row_left[r] >= u for r, u in per_row.items()) and all(
            self.units_left[n] >= u for n, u in per_node.items()
        )

    def can_open(self, pkg: int) -> bool:
        return self.cp.pkg_wait_days[pkg] > 0 or self.pk_left[self.cp.pkg_node[pkg]] >= 1

    def take(self, arc: int, units: int, sign: int = 1) -> None:
        rows = self.arc_rows[self.arc_ptr[arc] : self.arc_ptr[arc + 1]]
        self.row_left[rows] -= sign * units
        pkg = self.cp.arc_pkg[arc]
        if self.cp.pkg_wait_days[pkg] == 0:
            self.units_left[self.cp.pkg_node[pkg]] -= sign * units

    def open(self, pkg: int, sign: int = 1) -> None:
        if self.cp.pkg_wait_days[pkg] == 0:
            self.pk_left[self.cp.pkg_node[pkg]] -= sign


def _serve_order(
    cp: CompiledProblem,
    st: _State,
    x: IntArray,
    lines: range,
    pkgs: list[int],
    arcs_of: dict[tuple[int, int], int],
    whole_order_first: bool,
) -> None:
    """Fill one order from its packages in the given preference order, honouring every policy."""
    o = int(cp.line_order[lines.start])
    need = {line: int(cp.line_qty[line]) for line in lines}
    opened: list[int] = []
    taken: list[tuple[int, int]] = []

    def put(arc: int, units: int) -> None:
        pkg = int(cp.arc_pkg[arc])
        if pkg not in opened:
            opened.append(pkg)
            st.open(pkg)
        st.take(arc, units)
        x[arc] += units
        need[int(cp.arc_line[arc])] -= units
        taken.append((arc, units))

    def covers(pkg: int) -> bool:
        """Whether `pkg` alone can carry everything still needed (lines may share stock and capacity)."""
        arcs = [arcs_of.get((line, pkg)) for line in need]
        if any(arc is None for arc in arcs):
            return False
        return st.can_take([(arc, q) for arc, q in zip(arcs, need.values(), strict=True) if arc is not None and q])

    if cp.order_one_package[o] or whole_order_first:
        single = next((p for p in pkgs if st.can_open(p) and covers(p)), None)
        if single is not None:
            for line, q in list(need.items()):
                put(arcs_of[(line, single)], q)
        elif cp.order_one_package[o]:
            return
    if not cp.order_one_package[o]:
        for line in lines:
            for pkg in pkgs:
                arc = arcs_of.get((line, pkg))
                if need[line] == 0 or arc is None:
                    continue
                if pkg not in opened and (len(opened) >= cp.order_max_packages[o] or not st.can_open(pkg)):
                    continue
                units = min(need[line], st.room(arc))
                if not cp.line_splittable[line] and units < cp.line_qty[line]:
                    continue
                if units > 0:
                    put(arc, units)
    if cp.order_all_or_nothing[o] and any(need.values()):
        for arc, units in taken:  # roll the order back: it is served in full or not at all
            st.take(arc, units, sign=-1)
            x[arc] -= units
        for pkg in opened:
            st.open(pkg, sign=-1)


def rule_chain(cp: CompiledProblem, key: PackageKey, name: str, *, whole_order_first: bool = False) -> Solution:
    """Walk through the orders in sequence, serving each from its packages ranked by `key`."""
    start = time.perf_counter()
    st = _State.start(cp)
    x = np.zeros(cp.n_arcs, dtype=np.int64)
    line_ptr = np.r_[0, np.cumsum(np.bincount(cp.line_order, minlength=cp.n_orders))]
    pkg_ptr = np.r_[0, np.cumsum(np.bincount(cp.pkg_order, minlength=cp.n_orders))]
    arc_ptr = np.r_[0, np.cumsum(np.bincount(cp.pkg_order[cp.arc_pkg], minlength=cp.n_orders))]
    for o in range(cp.n_orders):
        pkgs = sorted(range(pkg_ptr[o], pkg_ptr[o + 1]), key=lambda p: key(cp, p))
        arcs = range(arc_ptr[o], arc_ptr[o + 1])
        arcs_of = {(int(cp.arc_line[a]), int(cp.arc_pkg[a])): a for a in arcs}
        _serve_order(cp, st, x, range(line_ptr[o], line_ptr[o + 1]), pkgs, arcs_of, whole_order_first)
    return Solution(
        x=x,
        solver=name,
        status="heuristic",
        objective=evaluate(cp, x).total,
        bound=None,
        runtime_s=time.perf_counter() - start,
    )


def shopify_default(cp: CompiledProblem) -> Solution:
    """Fewest packages (one node for the whole order if any can), then same country, then closest."""
    return rule_chain(
        cp,
        lambda c, p: (c.pkg_wait_days[p], c.pkg_cross_border[p], c.pkg_distance_km[p]),
        "shopify-default",
        whole_order_first=True,
    )


def nearest(cp: CompiledProblem) -> Solution:
    """Per line, the closest node with stock; what is short waits for the earliest inbound supply."""
    return rule_chain(cp, lambda c, p: (c.pkg_wait_days[p], c.pkg_distance_km[p]), "nearest")


def ranked(cp: CompiledProblem, priority: IntArray | None = None) -> Solution:
    """Per line, nodes in a fixed priority order (default: their order in the problem)."""
    rank = np.arange(cp.n_nodes) if priority is None else np.asarray(priority)
    return rule_chain(cp, lambda c, p: (c.pkg_wait_days[p], rank[c.pkg_node[p]]), "ranked")


BASELINES: dict[str, Callable[[CompiledProblem], Solution]] = {
    "shopify-default": shopify_default,
    "nearest": nearest,
    "ranked": ranked,
}
