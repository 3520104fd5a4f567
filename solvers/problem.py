"""The compiled problem: an allocation instance as flat numpy arrays, free of ids and money types.

Every solver (exact MIP, baselines, later methods) reads this and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Cost parts, in the column order of the cost arrays.
PARTS = ("shipping", "handling", "split", "backorder", "duties", "unfilled")
SHIPPING, HANDLING, SPLIT, BACKORDER, DUTIES, UNFILLED = range(len(PARTS))


@dataclass(frozen=True, eq=False)
class CompiledProblem:
    """Orders, lines, candidate packages and arcs, and the rows that couple orders.

    A *package* is a candidate (order, node, ship date) triple; an *arc* is a candidate (line, package)
    pair whose value is the number of units of the line in that package. Orders interact only through
    the supply rows (stock and inbound, per node, SKU and date) and the node capacity limits.
    """

    # orders O
    order_max_packages: IntArray  # [O] at most this many packages
    order_all_or_nothing: BoolArray  # [O] every line in full, or the whole order unfilled
    order_one_package: BoolArray  # [O] ship complete: a single package
    order_split_cost: FloatArray  # [O] per package beyond the first
    # lines L
    line_order: IntArray  # [L]
    line_qty: IntArray  # [L]
    line_splittable: BoolArray  # [L] False: all units in one package
    line_penalty: FloatArray  # [L] per unfilled unit
    # packages P
    pkg_order: IntArray  # [P]
    pkg_node: IntArray  # [P]
    pkg_wait_days: IntArray  # [P] 0 ships now; > 0 waits for inbound supply
    pkg_distance_km: FloatArray  # [P]
    pkg_cross_border: BoolArray  # [P]
    pkg_cost: FloatArray  # [P, parts] fixed cost of using the package
    pkg_de_minimis: FloatArray  # [P] value (destination currency) above which duty is due; inf: never
    pkg_duty_rate: FloatArray  # [P] duty, reporting currency per unit of value
    pkg_clearance_fee: FloatArray  # [P] reporting currency per dutiable package
    # weight bands B of each package's rate card, sorted by (package, cap)
    band_pkg: IntArray  # [B]
    band_cap_kg: FloatArray  # [B] inclusive upper limit; inf for the open band
    band_price: FloatArray  # [B] shipping cost of the package in this band
    # arcs A
    arc_line: IntArray  # [A]
    arc_pkg: IntArray  # [A]
    arc_cost: FloatArray  # [A, parts] per unit
    arc_weight_kg: FloatArray  # [A] per unit
    arc_value: FloatArray  # [A] per unit, destination currency
    # supply rows R: sum of x over the row's arcs <= row_cap
    row_cap: IntArray  # [R]
    row_ptr: IntArray  # [R + 1] CSR pointers into row_arcs
    row_arcs: IntArray  # [nnz]
    # nodes N: limits on what ships now (wait 0)
    node_max_packages: FloatArray  # [N] inf: no limit
    node_max_units: FloatArray  # [N]

    @property
    def n_orders(self) -> int:
        return len(self.order_max_packages)

    @property
    def n_lines(self) -> int:
        return len(self.line_order)

    @property
    def n_packages(self) -> int:
        return len(self.pkg_order)

    @property
    def n_arcs(self) -> int:
        return len(self.arc_line)

    @property
    def n_rows(self) -> int:
        return len(self.row_cap)

    @property
    def n_nodes(self) -> int:
        return len(self.node_max_packages)

    def row_of_arcs(self) -> tuple[IntArray, IntArray]:
        """(row, arc) pairs of the supply rows, in COO form."""
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.row_ptr))
        return rows, self.row_arcs

    def rows_by_arc(self) -> tuple[IntArray, IntArray]:
        """The supply rows of each arc in CSR form: arc a draws on rows[ptr[a]:ptr[a + 1]]."""
        rows, arcs = self.row_of_arcs()
        ptr = np.r_[0, np.cumsum(np.bincount(arcs, minlength=self.n_arcs))].astype(np.int64)
        return ptr, rows[np.argsort(arcs, kind="stable")]

    def unit_cost(self) -> FloatArray:
        """Per-unit cost of each arc summed over parts, net of the unfilled penalty it avoids."""
        return self.arc_cost.sum(axis=1) - self.line_penalty[self.arc_line]


@dataclass(frozen=True, eq=False)
class Prices:
    """Nonnegative prices on the coupling rows: per unit of supply row, per package and unit of node capacity.

    Any such prices give a lower bound on the optimal cost (Lagrangian relaxation of those rows).
    """

    row: FloatArray  # [R]
    node_packages: FloatArray  # [N]
    node_units: FloatArray  # [N]


def restrict(cp: CompiledProblem, keep_pkg: BoolArray) -> tuple[CompiledProblem, IntArray]:
    """`cp` with only the kept candidate packages (orders, lines, rows and nodes unchanged).

    Returns the smaller problem and, for each of its arcs, the arc it came from.
    """
    keep_arc = keep_pkg[cp.arc_pkg]
    pkg_old = np.flatnonzero(keep_pkg)
    pkg_new = np.full(cp.n_packages, -1, dtype=np.int64)
    pkg_new[pkg_old] = np.arange(len(pkg_old))
    arc_old = np.flatnonzero(keep_arc)
    arc_new = np.full(cp.n_arcs, -1, dtype=np.int64)
    arc_new[arc_old] = np.arange(len(arc_old))
    band = np.flatnonzero(keep_pkg[cp.band_pkg])
    rows, arcs = cp.row_of_arcs()
    sel = keep_arc[arcs]
    row_ptr = np.r_[0, np.cumsum(np.bincount(rows[sel], minlength=cp.n_rows))].astype(np.int64)
    sub = replace(
        cp,
        pkg_order=cp.pkg_order[pkg_old],
        pkg_node=cp.pkg_node[pkg_old],
        pkg_wait_days=cp.pkg_wait_days[pkg_old],
        pkg_distance_km=cp.pkg_distance_km[pkg_old],
        pkg_cross_border=cp.pkg_cross_border[pkg_old],
        pkg_cost=cp.pkg_cost[pkg_old],
        pkg_de_minimis=cp.pkg_de_minimis[pkg_old],
        pkg_duty_rate=cp.pkg_duty_rate[pkg_old],
        pkg_clearance_fee=cp.pkg_clearance_fee[pkg_old],
        band_pkg=pkg_new[cp.band_pkg[band]],
        band_cap_kg=cp.band_cap_kg[band],
        band_price=cp.band_price[band],
        arc_line=cp.arc_line[arc_old],
        arc_pkg=pkg_new[cp.arc_pkg[arc_old]],
        arc_cost=cp.arc_cost[arc_old],
        arc_weight_kg=cp.arc_weight_kg[arc_old],
        arc_value=cp.arc_value[arc_old],
        row_ptr=row_ptr,
        row_arcs=arc_new[arcs[sel]],
    )
    return sub, arc_old
