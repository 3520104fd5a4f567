"""The exact allocation MIP: every order decided jointly over shared stock and node capacity.

Small packages are modelled by their possible contents (patterns, priced exactly: weight band, duty),
which gives a much tighter relaxation; larger ones by units per arc with band and duty indicators. The
model is assembled as sparse matrices and handed to OR-Tools MathOpt, so the backend is a choice.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import time
from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from ortools.math_opt import model_pb2
from ortools.math_opt.python import mathopt

from solvers import highs
from solvers.problem import BoolArray, CompiledProblem, FloatArray, IntArray
from solvers.solution import EPS, Solution, evaluate, violations

BACKENDS = {"highs": mathopt.SolverType.HIGHS, "scip": mathopt.SolverType.GSCIP, "cpsat": mathopt.SolverType.CP_SAT}

#: Packages with at most this many possible contents are modelled by pattern.
PATTERN_LIMIT = 64


@dataclass(frozen=True, eq=False)
class Patterns:
    """Possible contents of the small packages: pattern k of package pat_pkg[k] holds c units on arc.

    A package's patterns are every nonzero choice per arc (units 0..cap, or 0/all for an unsplittable
    line), in `itertools.product` order over its arcs, so a content's pattern follows from its choices.
    """

    pat_pkg: IntArray  # [K] sorted
    pat_cost: FloatArray  # [K] exact cost of the package with these contents (unfilled penalty netted)
    entry_pat: IntArray  # [E] contents in COO form, sorted by pattern
    entry_arc: IntArray  # [E]
    entry_units: IntArray  # [E]
    by_pattern: BoolArray  # [P] package is modelled by pattern
    options: IntArray  # [A] choices per arc (units 0..cap, or 0/all)
    step: IntArray  # [A] units per choice (1, or the whole line)
    pat_ptr: IntArray  # [P + 1] each package's patterns
    pkg_arc_ptr: IntArray  # [P + 1] each package's arcs

    def find(self, p: int, units: IntArray) -> int | None:
        """Pattern of package `p` with `units` per arc of the package (in arc order), if modelled."""
        if not self.by_pattern[p] or not units.any():
            return None
        arcs = np.arange(self.pkg_arc_ptr[p], self.pkg_arc_ptr[p + 1])
        choice, rest = np.divmod(units, self.step[arcs])
        if rest.any() or (choice >= self.options[arcs]).any():
            return None
        rank = 0
        for c, n in zip(choice.tolist(), self.options[arcs].tolist(), strict=True):
            rank = rank * n + c
        return int(self.pat_ptr[p]) + rank - 1  # the all-zero choice is not a pattern


def arc_capacity(cp: CompiledProblem) -> FloatArray:
    """The most units an arc can carry: its line's quantity, or less where stock is scarcer."""
    rows, arcs = cp.row_of_arcs()
    cap = cp.line_qty[cp.arc_line].astype(float)
    np.minimum.at(cap, arcs, cp.row_cap[rows].astype(float))
    return cap


def offsets(counts: IntArray) -> IntArray:
    """CSR pointers from group sizes: group i spans [ptr[i], ptr[i + 1]] (cheaper than `np.r_` on small arrays)."""
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


@dataclass(frozen=True, eq=False)
class _Grid:
    """The nonzero choices of every content of one package shape, content by content, arcs ascending."""

    content: IntArray  # which content (0-based, `itertools.product` order without the all-zero one)
    slot: IntArray  # which of the package's arcs (0-based)
    rank: IntArray  # position among the content's nonzero choices
    choice: IntArray  # the choice: units = choice * step of the arc


@functools.lru_cache(maxsize=256)  # few shapes recur; bounded, as a grid may hold thousands of contents
def _grid(choices: tuple[int, ...]) -> _Grid:
    """The contents of a package whose arc i takes choices 0..choices[i] - 1.

    It depends on the shape alone, so packages of the same shape, in this call or any later one, share it."""
    grid = np.array(list(itertools.product(*(range(n) for n in choices)))[1:], dtype=np.int64).reshape(-1, len(choices))
    content, slot = np.nonzero(grid)
    rank = (np.cumsum(grid > 0, axis=1) - 1)[content, slot]
    parts = (content, slot, rank, grid[content, slot])
    for a in parts:
        a.flags.writeable = False
    return _Grid(*parts)


def enumerate_patterns(cp: CompiledProblem, arc_cap: FloatArray, limit: int = PATTERN_LIMIT) -> Patterns:
    """Every nonempty content of each package with at most `limit` of them, with its exact cost.

    Packages with the same choices per arc share one grid of contents, built once (vectorised)."""
    qty = cp.line_qty[cp.arc_line]
    rigid = ~cp.line_splittable[cp.arc_line]
    top = np.where(rigid, np.where(arc_cap >= qty, qty, 0), arc_cap).astype(np.int64)
    options = np.where(rigid, np.where(top > 0, 2, 1), top + 1).astype(np.int64)
    step = np.where(rigid, np.maximum(top, 1), 1).astype(np.int64)
    log_count = np.bincount(cp.arc_pkg, weights=np.log(options), minlength=cp.n_packages)
    by_pattern = log_count <= np.log(limit + 1) + 1e-9
    n_arc = np.bincount(cp.arc_pkg, minlength=cp.n_packages)
    pkg_ptr = offsets(n_arc)
    count = np.rint(np.exp(log_count)).astype(np.int64) - 1  # nonzero choices per package
    count = np.where(by_pattern, np.maximum(count, 0), 0)
    pat_ptr = offsets(count)
    pat_pkg = np.repeat(np.arange(cp.n_packages), count)
    e_pat: list[IntArray] = []
    e_rank: list[IntArray] = []
    e_arc: list[IntArray] = []
    e_units: list[IntArray] = []
    # Group the modelled packages by their choices per arc: one grid of contents per group.
    modelled = np.flatnonzero(by_pattern & (count > 0))
    width = int(n_arc[modelled].max(initial=0))
    shape = np.zeros((len(modelled), width), dtype=np.int64)
    slot = np.arange(width)
    inside = slot[None, :] < n_arc[modelled][:, None]
    shape[inside] = options[(pkg_ptr[modelled][:, None] + slot[None, :])[inside]]
    base = int(shape.max(initial=0)) + 1  # padded slots are 0, real ones 1..base-1
    if width * np.log2(max(base, 2)) < 62:  # one integer per shape, in the shapes' order: sorting it groups them
        group = shape @ base ** np.arange(width, dtype=np.int64)
    else:
        group = np.unique(shape, axis=0, return_inverse=True)[1].ravel()
    by_group = np.argsort(group, kind="stable")
    cuts = np.flatnonzero(np.diff(group[by_group])) + 1
    for members in np.split(by_group, cuts) if len(by_group) else []:
        pkgs = modelled[members]
        grid = _grid(tuple(shape[members[0], : n_arc[pkgs[0]]].tolist()))
        arcs = (pkg_ptr[pkgs][:, None] + grid.slot).ravel()  # package by package, each like the grid
        e_pat.append((pat_ptr[pkgs][:, None] + grid.content).ravel())
        e_rank.append(np.tile(grid.rank, len(pkgs)))
        e_arc.append(arcs)
        e_units.append(np.tile(grid.choice, len(pkgs)) * step[arcs])
    raw_pat, rank, raw_arc, raw_units = (
        np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for v in (e_pat, e_rank, e_arc, e_units)
    )
    # Entries in pattern order, arcs ascending within a pattern, placed without a sort.
    at = offsets(np.bincount(raw_pat, minlength=len(pat_pkg)))[raw_pat] + rank
    ep, ea, eu = (np.empty_like(v) for v in (raw_pat, raw_arc, raw_units))
    ep[at], ea[at], eu[at] = raw_pat, raw_arc, raw_units
    pk = pat_pkg
    n = len(pk)
    # Exact cost of each pattern: fixed, per unit, weight band, duty.
    unit = np.bincount(ep, weights=eu * cp.unit_cost()[ea], minlength=n)
    weight = np.bincount(ep, weights=eu * cp.arc_weight_kg[ea], minlength=n)
    value = np.bincount(ep, weights=eu * cp.arc_value[ea], minlength=n)
    band = _cheapest_band(cp, pk, weight.astype(np.float64))
    dutiable = value > cp.pkg_de_minimis[pk] + EPS
    duty = np.where(dutiable, cp.pkg_duty_rate[pk] * value + cp.pkg_clearance_fee[pk], 0.0)
    cost = cp.pkg_cost[pk].sum(axis=1) + band + unit + duty
    return Patterns(pk, cost, ep, ea, eu, by_pattern, options, step, pat_ptr, pkg_ptr)


#: Patterns priced per chunk when looking up weight bands (bounds the memory of (pattern, band) pairs).
BAND_CHUNK = 1 << 20


def _cheapest_band(cp: CompiledProblem, pkg: IntArray, weight: FloatArray) -> FloatArray:
    """Price of the cheapest weight band of package `pkg[i]` that takes `weight[i]` (inf: none)."""
    band_ptr = offsets(np.bincount(cp.band_pkg, minlength=cp.n_packages))
    band = np.full(len(pkg), np.inf)
    for lo in range(0, len(pkg), BAND_CHUNK):
        pk, w = pkg[lo : lo + BAND_CHUNK], weight[lo : lo + BAND_CHUNK]
        per = (band_ptr[pk + 1] - band_ptr[pk]).astype(np.int64)
        starts = np.cumsum(per) - per
        pair_band = np.repeat(band_ptr[pk] - starts, per) + np.arange(per.sum())
        fits = cp.band_cap_kg[pair_band] >= np.repeat(w, per) - EPS
        has = per > 0  # pairs are grouped by pattern: the cheapest fitting band of each by one reduction
        if has.any():
            price = np.where(fits, cp.band_price[pair_band], np.inf)
            band[lo : lo + BAND_CHUNK][has] = np.minimum.reduceat(price, starts[has])
    return band


@dataclass(frozen=True, eq=False)
class Layout:
    """Where each variable group sits in the column space, to read a solution back or write a hint."""

    x: IntArray  # column of each arc-modelled arc (-1 for pattern packages' arcs)
    y: IntArray  # column of each arc-modelled package (-1 otherwise)
    z: IntArray
    z_band: IntArray
    e: IntArray
    e_order: IntArray
    d: IntArray
    v: IntArray
    duty_pkg: IntArray
    f: IntArray
    f_order: IntArray
    a: IntArray
    a_arc: IntArray
    w: IntArray
    patterns: Patterns
    x_of_cols: sp.csr_matrix  # [A, n_vars]: units per arc as a function of the columns
    n_vars: int
    stock_row0: int  # model row of the first supply row (they follow in the problem's row order)
    node_rows: dict[str, IntArray]  # "packages"/"units": model row of each node's capacity, or -1


class _Columns:
    """Allocates variable groups: bounds, objective and integrality."""

    def __init__(self) -> None:
        self.lb: list[FloatArray] = []
        self.ub: list[FloatArray] = []
        self.cost: list[FloatArray] = []
        self.integer: list[np.ndarray] = []
        self.n = 0

    def add(self, n: int, lb: ArrayLike, ub: ArrayLike, cost: ArrayLike, integer: bool) -> IntArray:
        for store, val in ((self.lb, lb), (self.ub, ub), (self.cost, cost)):
            store.append(np.broadcast_to(np.asarray(val, dtype=float), (n,)))
        self.integer.append(np.full(n, integer))
        cols = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return cols


def _matrix(rows: IntArray, cols: IntArray, vals: ArrayLike, shape: tuple[int, int]) -> sp.csr_matrix:
    vals_arr = np.broadcast_to(np.asarray(vals, dtype=float), np.shape(rows))
    return sp.csr_matrix((vals_arr, (rows, cols)), shape=shape)


def build(cp: CompiledProblem) -> tuple[model_pb2.ModelProto, Layout]:
    """The MIP of `cp`: Data -> Variables -> Constraints -> Objective, as a MathOpt model proto."""
    P, A, L, O, N = cp.n_packages, cp.n_arcs, cp.n_lines, cp.n_orders, cp.n_nodes
    arc_cap = arc_capacity(cp)
    pat = enumerate_patterns(cp, arc_cap)
    arc_mode = ~pat.by_pattern[cp.arc_pkg]  # arc modelled by units
    pkg_mode = ~pat.by_pattern
    xa, yp = np.flatnonzero(arc_mode), np.flatnonzero(pkg_mode)
    col = _Columns()

    # x[a]: units of line arc_line[a] in package arc_pkg[a], for arc-modelled packages (the unfilled
    # penalty it avoids is netted into its cost; the objective offset adds back every unit's penalty).
    x_col = np.full(A, -1, dtype=np.int64)
    x_col[xa] = col.add(len(xa), 0.0, arc_cap[xa], cp.unit_cost()[xa], integer=True)

    # Weight bands that some achievable weight of an arc-modelled package falls into.
    pkg_wmax = np.bincount(cp.arc_pkg, weights=cp.arc_weight_kg * arc_cap, minlength=P)
    pkg_wmin = np.full(P, np.inf)
    np.minimum.at(pkg_wmin, cp.arc_pkg, cp.arc_weight_kg)
    first = np.r_[True, cp.band_pkg[1:] != cp.band_pkg[:-1]]
    prev_cap = np.where(first, -np.inf, np.r_[-np.inf, cp.band_cap_kg[:-1]])
    keep = (
        pkg_mode[cp.band_pkg]
        & (cp.band_cap_kg >= pkg_wmin[cp.band_pkg] - EPS)
        & (prev_cap < pkg_wmax[cp.band_pkg] - EPS)
    )
    kept = np.flatnonzero(keep)
    single = np.bincount(cp.band_pkg[kept], minlength=P)[cp.band_pkg[kept]] == 1
    single_price = np.zeros(P)
    single_price[cp.band_pkg[kept[single]]] = cp.band_price[kept[single]]
    multi = kept[~single]

    # y[p]: arc-modelled package p is used (fixed cost, and its band price when only one band applies).
    y_col = np.full(P, -1, dtype=np.int64)
    y_col[yp] = col.add(len(yp), 0.0, 1.0, cp.pkg_cost[yp].sum(axis=1) + single_price[yp], integer=True)
    # z[k]: arc-modelled package band_pkg[k] ships in weight band k.
    z = col.add(len(multi), 0.0, 1.0, cp.band_price[multi], integer=True)
    # d[p], v[p]: the package's value exceeds the de minimis, and the value duty is charged on.
    pkg_vmax = np.bincount(cp.arc_pkg, weights=cp.arc_value * arc_cap, minlength=P)
    duty_pkg = np.flatnonzero(pkg_mode & (pkg_vmax > cp.pkg_de_minimis + EPS))
    d = col.add(len(duty_pkg), 0.0, 1.0, cp.pkg_clearance_fee[duty_pkg], integer=True)
    v = col.add(len(duty_pkg), 0.0, pkg_vmax[duty_pkg], cp.pkg_duty_rate[duty_pkg], integer=False)
    # a[arc]: an unsplittable line of several units ships whole on this arc.
    a_arc = np.flatnonzero(arc_mode & ~cp.line_splittable[cp.arc_line] & (cp.line_qty[cp.arc_line] > 1))
    a = col.add(len(a_arc), 0.0, 1.0, 0.0, integer=True)
    # w[k]: pattern-modelled package pat_pkg[k] ships with contents k (cost exact).
    w = col.add(len(pat.pat_pkg), 0.0, 1.0, pat.pat_cost, integer=True)
    # e[o]: packages beyond the first, for orders that may split and pay for it.
    n_cand = np.bincount(cp.pkg_order, minlength=O)
    e_order = np.flatnonzero((cp.order_split_cost > 0) & (n_cand > 1) & (cp.order_max_packages > 1))
    e = col.add(len(e_order), 0.0, np.inf, cp.order_split_cost[e_order], integer=False)
    # f[o]: an all-or-nothing order is served in full.
    f_order = np.flatnonzero(cp.order_all_or_nothing)
    f = col.add(len(f_order), 0.0, 1.0, 0.0, integer=True)
    n_vars = col.n

    # Units per arc and packages used, as linear functions of the columns.
    x_of = _matrix(
        np.r_[xa, pat.entry_arc],
        np.r_[x_col[xa], w[pat.entry_pat]],
        np.r_[np.ones(len(xa)), pat.entry_units],
        (A, n_vars),
    )
    y_of = _matrix(np.r_[yp, pat.pat_pkg], np.r_[y_col[yp], w], 1.0, (P, n_vars))

    blocks: list[sp.csr_matrix] = []
    lo: list[FloatArray] = []
    hi: list[FloatArray] = []

    def rows(m: sp.spmatrix, lb: ArrayLike, ub: ArrayLike) -> None:
        blocks.append(sp.csr_matrix(m))
        lo.append(np.broadcast_to(np.asarray(lb, dtype=float), (m.shape[0],)))
        hi.append(np.broadcast_to(np.asarray(ub, dtype=float), (m.shape[0],)))

    # Each unit of a line ships (now or later) or is unfilled: sum x <= qty; for an all-or-nothing
    # order, sum x = qty * f[o].
    aon = cp.order_all_or_nothing[cp.line_order]
    f_of_order = np.full(O, -1, dtype=np.int64)
    f_of_order[f_order] = f
    aon_lines = np.flatnonzero(aon)
    m = _matrix(cp.arc_line, np.arange(A), 1.0, (L, A)) @ x_of
    m = m - _matrix(
        aon_lines, f_of_order[cp.line_order[aon_lines]], cp.line_qty[aon_lines].astype(np.float64), (L, n_vars)
    )
    qty = cp.line_qty.astype(float)
    rows(m, np.where(aon, 0.0, -np.inf), np.where(aon, 0.0, qty))

    # Stock: what a node ships of a SKU up to each date never exceeds what it has by then.
    r, arcs = cp.row_of_arcs()
    stock_row0 = sum(block.shape[0] for block in blocks)
    rows(_matrix(r, arcs, 1.0, (cp.n_rows, A)) @ x_of, -np.inf, cp.row_cap.astype(float))

    # Node capacity for what ships now: packages and units.
    now_pkg = cp.pkg_wait_days == 0
    now_arc = now_pkg[cp.arc_pkg]
    node_rows = {"packages": np.full(N, -1, dtype=np.int64), "units": np.full(N, -1, dtype=np.int64)}
    for cap, per_pkg in ((cp.node_max_packages, True), (cp.node_max_units, False)):
        limited = np.isfinite(cap)
        if not limited.any():
            continue
        if per_pkg:
            sel = np.flatnonzero(now_pkg & limited[cp.pkg_node])
            m = _matrix(cp.pkg_node[sel], sel, 1.0, (N, P)) @ y_of
        else:
            sel = np.flatnonzero(now_arc & limited[cp.pkg_node[cp.arc_pkg]])
            m = _matrix(cp.pkg_node[cp.arc_pkg[sel]], sel, 1.0, (N, A)) @ x_of
        nodes = np.flatnonzero(limited)
        node_rows["packages" if per_pkg else "units"][nodes] = sum(block.shape[0] for block in blocks) + np.arange(
            len(nodes)
        )
        rows(m[nodes], -np.inf, cap[nodes])

    # At most max_packages packages per order (1 for ship-complete orders).
    limited_o = np.flatnonzero(cp.order_max_packages < n_cand)
    order_pkgs = _matrix(cp.pkg_order, np.arange(P), 1.0, (O, P)) @ y_of
    rows(order_pkgs[limited_o], -np.inf, cp.order_max_packages[limited_o].astype(float))

    # Split cost: e[o] >= packages - 1.
    rows(order_pkgs[e_order] - _matrix(np.arange(len(e_order)), e, 1.0, (len(e_order), n_vars)), -np.inf, 1.0)

    # A pattern-modelled package takes at most one of its contents.
    pp = np.flatnonzero(pat.by_pattern)
    row_of = np.full(P, -1, dtype=np.int64)
    row_of[pp] = np.arange(len(pp))
    rows(_matrix(row_of[pat.pat_pkg], w, 1.0, (len(pp), n_vars)), -np.inf, 1.0)

    # Arc-modelled packages: an arc carries units only if its package is used (x <= cap * y) ...
    rows(
        _matrix(
            np.r_[np.arange(len(xa)), np.arange(len(xa))],
            np.r_[x_col[xa], y_col[cp.arc_pkg[xa]]],
            np.r_[np.ones(len(xa)), -arc_cap[xa]],
            (len(xa), n_vars),
        ),
        -np.inf,
        0.0,
    )
    # ... its weight fits the chosen band (sum w x <= sum cap z) and a used package has one band ...
    pk_multi = np.unique(cp.band_pkg[multi])
    row_of = np.full(P, -1, dtype=np.int64)
    row_of[pk_multi] = np.arange(len(pk_multi))
    am = xa[row_of[cp.arc_pkg[xa]] >= 0]
    zcap = np.minimum(cp.band_cap_kg[multi], pkg_wmax[cp.band_pkg[multi]])
    rows(
        _matrix(
            np.r_[row_of[cp.arc_pkg[am]], row_of[cp.band_pkg[multi]]],
            np.r_[x_col[am], z],
            np.r_[cp.arc_weight_kg[am], -zcap],
            (len(pk_multi), n_vars),
        ),
        -np.inf,
        0.0,
    )
    rows(
        _matrix(
            np.r_[row_of[cp.band_pkg[multi]], row_of[pk_multi]],
            np.r_[z, y_col[pk_multi]],
            np.r_[np.ones(len(multi)), -np.ones(len(pk_multi))],
            (len(pk_multi), n_vars),
        ),
        0.0,
        0.0,
    )
    # ... value above the de minimis forces d = 1 (V - M d <= dm), then v >= V (V - v + M d <= M) ...
    row_of = np.full(P, -1, dtype=np.int64)
    row_of[duty_pkg] = np.arange(len(duty_pkg))
    ad = xa[row_of[cp.arc_pkg[xa]] >= 0]
    big_m = pkg_vmax[duty_pkg].astype(np.float64)
    value_rows = _matrix(row_of[cp.arc_pkg[ad]], x_col[ad], cp.arc_value[ad], (len(duty_pkg), n_vars))
    own = np.arange(len(duty_pkg))
    rows(value_rows - _matrix(own, d, big_m, value_rows.shape), -np.inf, cp.pkg_de_minimis[duty_pkg])
    rows(
        value_rows + _matrix(np.r_[own, own], np.r_[d, v], np.r_[big_m, -np.ones(len(own))], value_rows.shape),
        -np.inf,
        big_m,
    )
    # ... and an unsplittable line ships whole on one arc: x = qty * a, sum a <= 1.
    own = np.arange(len(a_arc))
    rows(
        _matrix(
            np.r_[own, own],
            np.r_[x_col[a_arc], a],
            np.r_[np.ones(len(own)), -cp.line_qty[cp.arc_line[a_arc]].astype(float)],
            (len(own), n_vars),
        ),
        0.0,
        0.0,
    )
    lines_a, inv = np.unique(cp.arc_line[a_arc], return_inverse=True)
    rows(_matrix(inv, a, 1.0, (len(lines_a), n_vars)), -np.inf, 1.0)

    # Objective: minimise total cost; the penalty of every ordered unit is the constant.
    offset = float((cp.line_penalty * cp.line_qty).sum())
    proto = _proto(
        col,
        sp.vstack(blocks).tocoo() if blocks else sp.coo_matrix((0, n_vars)),
        np.concatenate(lo),
        np.concatenate(hi),
        offset,
    )
    layout = Layout(
        x=x_col,
        y=y_col,
        z=z,
        z_band=multi,
        e=e,
        e_order=e_order,
        d=d,
        v=v,
        duty_pkg=duty_pkg,
        f=f,
        f_order=f_order,
        a=a,
        a_arc=a_arc,
        w=w,
        patterns=pat,
        x_of_cols=x_of,
        n_vars=n_vars,
        stock_row0=stock_row0,
        node_rows=node_rows,
    )
    return proto, layout


def _proto(col: _Columns, m: sp.coo_matrix, lo: FloatArray, hi: FloatArray, offset: float) -> model_pb2.ModelProto:
    p = model_pb2.ModelProto(name="allocation")
    p.variables.ids.extend(range(col.n))
    p.variables.lower_bounds.extend(np.concatenate(col.lb).tolist())
    p.variables.upper_bounds.extend(np.concatenate(col.ub).tolist())
    p.variables.integers.extend(np.concatenate(col.integer).tolist())
    cost = np.concatenate(col.cost)
    nz = np.flatnonzero(cost)
    p.objective.offset = offset
    p.objective.linear_coefficients.ids.extend(nz.tolist())
    p.objective.linear_coefficients.values.extend(cost[nz].tolist())
    p.linear_constraints.ids.extend(range(m.shape[0]))
    p.linear_constraints.lower_bounds.extend(lo.tolist())
    p.linear_constraints.upper_bounds.extend(hi.tolist())
    m.sum_duplicates()
    keep = m.data != 0
    order = np.lexsort((m.col[keep], m.row[keep]))  # the proto wants row-major order
    p.linear_constraint_matrix.row_ids.extend(m.row[keep][order].tolist())
    p.linear_constraint_matrix.column_ids.extend(m.col[keep][order].tolist())
    p.linear_constraint_matrix.coefficients.extend(m.data[keep][order].tolist())
    return p


def assignment(cp: CompiledProblem, layout: Layout, x: IntArray) -> FloatArray | None:
    """Every MIP variable implied by units per arc `x` (a feasible hint), or None if not expressible."""
    ev = evaluate(cp, x)
    sol = np.zeros(layout.n_vars)
    xa = np.flatnonzero(layout.x >= 0)
    sol[layout.x[xa]] = x[xa]
    yp = np.flatnonzero(layout.y >= 0)
    sol[layout.y[yp]] = ev.pkg_used[yp]
    pkg = cp.band_pkg[layout.z_band]
    fits = cp.band_cap_kg[layout.z_band] >= ev.pkg_weight_kg[pkg] - EPS
    first_fit = np.full(cp.n_packages, len(pkg))  # bands are sorted by cap: the first that fits
    np.minimum.at(first_fit, pkg[fits], np.flatnonzero(fits))
    sol[layout.z] = (np.arange(len(pkg)) == first_fit[pkg]) & ev.pkg_used[pkg]
    n_pk = np.bincount(cp.pkg_order, weights=ev.pkg_used, minlength=cp.n_orders)
    sol[layout.e] = np.maximum(n_pk[layout.e_order] - 1, 0)
    sol[layout.d] = ev.pkg_dutiable[layout.duty_pkg]
    sol[layout.v] = np.where(ev.pkg_dutiable[layout.duty_pkg], ev.pkg_value[layout.duty_pkg], 0.0)
    shipped = np.bincount(cp.arc_line, weights=x, minlength=cp.n_lines)
    served = np.bincount(cp.line_order, weights=shipped > 0, minlength=cp.n_orders) > 0
    sol[layout.f] = served[layout.f_order]
    sol[layout.a] = x[layout.a_arc] > 0
    pkg_ptr = np.r_[0, np.cumsum(np.bincount(cp.arc_pkg, minlength=cp.n_packages))]
    pat = layout.patterns
    for p in np.flatnonzero(pat.by_pattern & ev.pkg_used).tolist():
        k = pat.find(p, x[pkg_ptr[p] : pkg_ptr[p + 1]])
        if k is None:  # contents the model cannot express (e.g. above a capacity): no usable hint
            return None
        sol[layout.w[k]] = 1.0
    return sol


#: Models up to this many variables are solved in-process (backends keep their time limits there);
#: larger ones in a forked process that is stopped at the deadline.
IN_PROCESS_MAX_VARS = 5_000
#: A forked solve is stopped at the deadline; its backend's own time limit ends this many seconds
#: earlier, plus this share of the time left, so that a solve that keeps its limit (and sends its
#: answer back) ends in time.
GRACE_S = 1.0
GRACE_SHARE = 0.1


Sent = tuple[tuple[IntArray, FloatArray] | None, float, bool]


def _solve_mathopt(
    proto: model_pb2.ModelProto, backend: str, params: mathopt.SolveParameters, hint: FloatArray | None
) -> Sent:
    """(ids and values of the best solution or None, dual bound, proven optimal) through MathOpt."""
    model = mathopt.Model.from_model_proto(proto)
    model_params = None
    if hint is not None:
        values = {var: float(val) for var, val in zip(model.variables(), hint, strict=True)}
        model_params = mathopt.ModelSolveParameters(solution_hints=[mathopt.SolutionHint(variable_values=values)])
    result = mathopt.solve(model, BACKENDS[backend], params=params, model_params=model_params)
    full = None
    if result.has_primal_feasible_solution():
        sol = result.to_proto().solutions[0].primal_solution.variable_values
        full = (np.asarray(sol.ids, dtype=np.int64), np.asarray(sol.values))
    optimal = result.termination.reason == mathopt.TerminationReason.OPTIMAL
    return full, float(result.termination.objective_bounds.dual_bound), optimal


def _solve_highs(
    proto: model_pb2.ModelProto, backend: str, params: mathopt.SolveParameters, hint: FloatArray | None
) -> Sent:
    """The same through HiGHS's own interface, which takes the hint as a starting solution."""
    h = highs.from_proto(proto)
    assert params.time_limit is not None
    highs.set_time_limit(h, params.time_limit.total_seconds())
    h.setOptionValue("random_seed", params.random_seed or 0)
    h.setOptionValue("mip_rel_gap", params.relative_gap_tolerance or 0.0)
    h.setOptionValue("mip_abs_gap", params.absolute_gap_tolerance or 0.0)
    highs.run_from(h, hint, np.asarray(h.getLp().col_cost_))
    sol = h.getSolution()
    n = len(proto.variables.ids)
    empty = h.getModelStatus() == highspy.HighsModelStatus.kModelEmpty  # nothing to decide
    full = (np.arange(n), np.asarray(sol.col_value, dtype=float)) if sol.value_valid or empty else None
    optimal = empty or h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    info = h.getInfo()
    # A model without integer variables is solved as an LP, which has no MIP dual bound.
    dual = info.mip_dual_bound if info.mip_node_count >= 0 else info.objective_function_value
    if empty:
        dual = proto.objective.offset
    return full, float(dual), optimal


def _solve(proto: model_pb2.ModelProto, backend: str, params: mathopt.SolveParameters, hint: FloatArray | None) -> Sent:
    solve = _solve_highs if backend == "highs" else _solve_mathopt
    return solve(proto, backend, params, hint)


def _solve_with_hard_deadline(
    proto: model_pb2.ModelProto,
    backend: str,
    params: mathopt.SolveParameters,
    hint: FloatArray | None,
    seconds: float,
) -> tuple[FloatArray | None, float, bool] | None:
    """Solve in a forked process and stop it after `seconds`: some backends overrun their own time
    limit on large models (HiGHS can spend minutes before its first node). Returns the values of
    every variable (or None), the dual bound and whether optimality was proven; None if stopped."""
    sent = highs.in_child(lambda: _solve(proto, backend, params, hint), seconds)
    if sent is None:
        return None
    full, bound, proven = sent
    return _values(full, len(proto.variables.ids)), bound, proven


def _values(sent: tuple[IntArray, FloatArray] | None, n: int) -> FloatArray | None:
    """Dense variable values from the (ids, values) a solve sent back."""
    if sent is None:
        return None
    values = np.zeros(n)
    values[sent[0]] = sent[1]
    return values


def solve_mip(
    cp: CompiledProblem,
    *,
    time_limit_s: float = 60.0,
    backend: str = "highs",
    seed: int = 0,
    hint: Solution | None = None,
    relative_gap: float = 1e-4,
) -> Solution:
    """Solve the MIP within `time_limit_s` (building included); never worse than `hint`.

    "optimal" means proven within `relative_gap` of the best bound (the usual MIP convention).
    """
    start = time.perf_counter()
    proto, layout = build(cp)
    if hint is not None and violations(cp, hint.x):
        hint = None  # never hand the solver, or return, an infeasible warm start
    values = assignment(cp, layout, hint.x) if hint is not None else None
    if hint is not None and time.perf_counter() - start >= time_limit_s:  # building took the deadline
        return Solution(hint.x, f"mip-{backend}", "feasible", hint.objective, None, time.perf_counter() - start, seed)
    remaining = max(0.05, time_limit_s - (time.perf_counter() - start))
    forked = layout.n_vars > IN_PROCESS_MAX_VARS
    own_limit = max(0.05, remaining * (1 - GRACE_SHARE) - GRACE_S) if forked else remaining
    params = mathopt.SolveParameters(
        time_limit=dt.timedelta(seconds=own_limit),
        random_seed=seed,
        relative_gap_tolerance=relative_gap,
        absolute_gap_tolerance=1e-6,
    )
    if backend == "cpsat":
        params.threads = 2
    outcome: tuple[FloatArray | None, float, bool] | None
    if not forked:
        full_sent, dual, optimal = _solve(proto, backend, params, values)
        outcome = _values(full_sent, layout.n_vars), dual, optimal
    else:
        outcome = _solve_with_hard_deadline(proto, backend, params, values, remaining)
    bound, proven, x = -np.inf, False, None
    if outcome is not None:
        full, bound, proven = outcome
        if full is not None:
            x = np.rint(layout.x_of_cols @ full).astype(np.int64)
    objective = evaluate(cp, x).total if x is not None else np.inf
    if hint is not None and (x is None or hint.objective < objective - EPS):
        x, objective = hint.x, hint.objective
    if x is None:
        raise RuntimeError("the MIP found no solution within its deadline and no hint was given")
    finite_bound = min(float(bound), objective) if np.isfinite(bound) else None
    return Solution(
        x=x,
        solver=f"mip-{backend}",
        status="optimal" if proven else "feasible",
        objective=objective,
        bound=finite_bound,
        runtime_s=time.perf_counter() - start,
        seed=seed,
    )
