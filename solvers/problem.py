"""The compiled problem: an allocation instance as flat numpy arrays, free of ids and money types.

Every solver (exact MIP, baselines, later methods) reads this and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    def unit_cost(self) -> FloatArray:
        """Per-unit cost of each arc summed over parts, net of the unfilled penalty it avoids."""
        return self.arc_cost.sum(axis=1) - self.line_penalty[self.arc_line]
