"""A solver's answer (units per arc plus status, objective, bound, gap) and its independent check.

`evaluate` prices a decision from first principles and `violations` lists every broken constraint, so
any solver's output, and the MIP's own objective, can be checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.problem import (
    DUTIES,
    PARTS,
    SHIPPING,
    SPLIT,
    UNFILLED,
    BoolArray,
    CompiledProblem,
    FloatArray,
    IntArray,
    Prices,
)

#: Tolerance when comparing values in money or kilograms.
EPS = 1e-6


@dataclass(frozen=True, eq=False)
class Solution:
    """Units per arc, and what the solver knows of their quality."""

    x: IntArray  # [A] units of the arc's line in the arc's package
    solver: str
    status: str  # "optimal" (proven), "feasible" (MIP, not proven), "heuristic"
    objective: float
    bound: float | None
    runtime_s: float
    seed: int = 0
    prices: Prices | None = None  # the certificate of `bound`, where the method gives one

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        return max(0.0, self.objective - self.bound) / max(abs(self.objective), 1e-9)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Cost of a decision by part, and the per-package facts it was derived from."""

    parts: FloatArray  # [parts]
    pkg_used: BoolArray  # [P]
    pkg_weight_kg: FloatArray  # [P]
    pkg_value: FloatArray  # [P]
    pkg_shipping: FloatArray  # [P] fixed + band shipping of used packages
    pkg_dutiable: BoolArray  # [P]
    pkg_duty: FloatArray  # [P]
    line_unfilled: IntArray  # [L]

    @property
    def total(self) -> float:
        return float(self.parts.sum())

    def as_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(PARTS, self.parts, strict=True)}


def evaluate(cp: CompiledProblem, x: IntArray) -> Evaluation:
    """Price the decision `x` directly: bands by package weight, duty by package value, and so on."""
    x = np.asarray(x, dtype=np.int64)
    units = np.bincount(cp.arc_pkg, weights=x, minlength=cp.n_packages)
    used = units > 0
    weight = np.bincount(cp.arc_pkg, weights=x * cp.arc_weight_kg, minlength=cp.n_packages)
    value = np.bincount(cp.arc_pkg, weights=x * cp.arc_value, minlength=cp.n_packages)

    # Band price: the cheapest band whose cap holds the weight (prices never fall with weight).
    fits = cp.band_cap_kg >= weight[cp.band_pkg] - EPS
    band_price = np.full(cp.n_packages, np.inf)
    np.minimum.at(band_price, cp.band_pkg[fits], cp.band_price[fits])
    band_price = np.where(used, band_price, 0.0)
    if np.isinf(band_price).any():  # a used package with no band cannot happen: the last band is open
        raise ValueError("a package has no weight band")

    dutiable = used & (value > cp.pkg_de_minimis + EPS)
    duty = np.where(dutiable, cp.pkg_duty_rate * value + cp.pkg_clearance_fee, 0.0)

    parts = np.zeros(len(PARTS))
    parts += (cp.arc_cost * x[:, None]).sum(axis=0)  # per-unit parts, backorder waiting included
    parts += cp.pkg_cost[used].sum(axis=0)
    parts[SHIPPING] += band_price.sum()
    parts[DUTIES] += duty.sum()
    packages_per_order = np.bincount(cp.pkg_order, weights=used, minlength=cp.n_orders)
    parts[SPLIT] += float((cp.order_split_cost * np.maximum(packages_per_order - 1, 0)).sum())
    shipped = np.bincount(cp.arc_line, weights=x, minlength=cp.n_lines).astype(np.int64)
    unfilled = cp.line_qty - shipped
    parts[UNFILLED] += float((cp.line_penalty * unfilled).sum())
    return Evaluation(
        parts=parts,
        pkg_used=used,
        pkg_weight_kg=weight.astype(np.float64),
        pkg_value=value.astype(np.float64),
        pkg_shipping=np.where(used, cp.pkg_cost[:, SHIPPING] + band_price, 0.0),
        pkg_dutiable=dutiable,
        pkg_duty=duty,
        line_unfilled=unfilled,
    )


@dataclass(frozen=True)
class Violation:
    """One kind of hard constraint a decision breaks, with the first few indices that break it.

    `entity` says what the indices index ("arc", "line", "supply row", "node", "order"; "decision" has none), so that
    a caller holding the problem's ids can name them (`routing_engine.verify` does).
    """

    entity: str
    indices: tuple[int, ...]
    breaks: str

    def __str__(self) -> str:
        return f"{self.entity}s {list(self.indices)} {self.breaks}" if self.indices else self.breaks


def _found(out: list[Violation], entity: str, bad: IntArray, breaks: str) -> None:
    if len(bad):
        out.append(Violation(entity, tuple(int(i) for i in bad[:5]), breaks))


def violations(cp: CompiledProblem, x: IntArray) -> list[Violation]:
    """Every hard constraint that `x` breaks; empty when the decision is feasible."""
    x = np.asarray(x)
    out: list[Violation] = []
    if x.shape != (cp.n_arcs,):
        return [Violation("decision", (), f"x has shape {x.shape}, expected ({cp.n_arcs},)")]
    _found(out, "arc", np.flatnonzero(x < 0), "carry negative units")
    shipped = np.bincount(cp.arc_line, weights=x, minlength=cp.n_lines)
    _found(out, "line", np.flatnonzero(shipped > cp.line_qty), "ship more than ordered")
    rows, arcs = cp.row_of_arcs()
    usage = np.bincount(rows, weights=x[arcs], minlength=cp.n_rows)
    _found(out, "supply row", np.flatnonzero(usage > cp.row_cap), "are overdrawn")

    used = np.bincount(cp.arc_pkg, weights=x, minlength=cp.n_packages) > 0
    now = used & (cp.pkg_wait_days == 0)
    node_pk = np.bincount(cp.pkg_node[now], minlength=cp.n_nodes)
    arc_now = cp.pkg_wait_days[cp.arc_pkg] == 0
    node_units = np.bincount(cp.pkg_node[cp.arc_pkg[arc_now]], weights=x[arc_now], minlength=cp.n_nodes)
    for name, have, cap in (("packages", node_pk, cp.node_max_packages), ("units", node_units, cp.node_max_units)):
        _found(out, "node", np.flatnonzero(have > cap), f"exceed max {name}")

    n_pk = np.bincount(cp.pkg_order, weights=used, minlength=cp.n_orders)
    _found(out, "order", np.flatnonzero(n_pk > cp.order_max_packages), "exceed max packages")
    several = cp.order_one_package & (n_pk > 1)
    _found(out, "order", np.flatnonzero(several), "are ship-complete but have several packages")

    full = shipped == cp.line_qty
    empty = shipped == 0
    order_full = np.bincount(cp.line_order, weights=~full, minlength=cp.n_orders) == 0
    order_empty = np.bincount(cp.line_order, weights=~empty, minlength=cp.n_orders) == 0
    partly = cp.order_all_or_nothing & ~order_full & ~order_empty
    _found(out, "order", np.flatnonzero(partly), "are all-or-nothing but partly served")

    rigid = ~cp.line_splittable[cp.arc_line] & (x > 0)
    arcs_per_line = np.bincount(cp.arc_line[rigid], minlength=cp.n_lines)
    bad = np.flatnonzero((arcs_per_line > 1) | (~cp.line_splittable & ~full & ~empty))
    _found(out, "line", bad, "are unsplittable but split")
    return out
