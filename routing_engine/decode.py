"""Turn a solver's units per arc back into packages, backorders, unfilled lines, costs and KPIs.

Costs are recomputed from the decision (not taken from the solver), so the breakdown always sums to
the total and every solver is reported the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np

from routing_engine.compile import Compiled
from routing_engine.model import (
    AllocationResult,
    Certificate,
    CostBreakdown,
    InboundUse,
    Kpis,
    NodePrice,
    Package,
    PackageLine,
    RowPrice,
    SolverReport,
    UnfilledLine,
    UnfilledReason,
)
from solvers.problem import BACKORDER, HANDLING, PARTS, SHIPPING, Prices
from solvers.solution import Solution, evaluate


def _breakdown(values: dict[str, float]) -> CostBreakdown:
    parts = {name: float(values.get(name, 0.0)) for name in PARTS}
    return CostBreakdown(**parts, total=sum(parts.values()))


def _inbound_fifo(c: Compiled, x: np.ndarray) -> dict[int, list[tuple[str | None, int]]]:
    """Which supply each arc draws on: packages in date order, stock first, then inbound by ETA.

    A channel with a buffer at a node never draws more of its stock than available minus the buffer;
    within a date those channels draw first, as they have the least room.
    """
    cp, p = c.cp, c.problem
    node_ix = {n.id: i for i, n in enumerate(p.nodes)}
    sku_ix = {s.id: i for i, s in enumerate(p.skus)}
    k_count = len(p.skus)
    pools: dict[int, list[list[Any]]] = defaultdict(list)  # (node, sku) -> [[inbound id or None, wait, units]]
    limit: dict[tuple[int, str], int] = {}  # (node, sku), channel -> stock that channel may still draw
    for s in p.stock:
        key = node_ix[s.node] * k_count + sku_ix[s.sku]
        pools[key].append([None, 0, s.available])
        for channel, withheld in s.channel_buffers.items():
            limit[(key, channel)] = max(0, s.available - withheld)
    for i in sorted(p.inbound, key=lambda i: (i.eta, i.id)):
        wait = max(1, (i.eta - p.as_of).days)
        pools[node_ix[i.node] * k_count + sku_ix[i.sku]].append([i.id, wait, i.quantity])
    used = np.flatnonzero(x > 0)
    channel_of = [p.orders[int(cp.line_order[cp.arc_line[a]])].channel for a in used.tolist()]
    arc_key = cp.pkg_node[cp.arc_pkg[used]] * k_count + c.line_sku[cp.arc_line[used]]
    buffered = np.array([(int(k), ch) in limit for k, ch in zip(arc_key, channel_of, strict=True)], dtype=bool)
    order = np.lexsort((~buffered, cp.pkg_wait_days[cp.arc_pkg[used]]))
    draws: dict[int, list[tuple[str | None, int]]] = {}
    for idx in order.tolist():
        arc = int(used[idx])
        pkg = cp.arc_pkg[arc]
        key, channel = int(arc_key[idx]), channel_of[idx]
        need, got = int(x[arc]), []
        for entry in pools[key]:
            if need == 0:
                break
            if entry[1] > cp.pkg_wait_days[pkg] or entry[2] <= 0:
                continue
            room = entry[2] if entry[0] is not None else min(entry[2], limit.get((key, channel), entry[2]))
            q = min(need, room)
            if q <= 0:
                continue
            entry[2] -= q
            need -= q
            if entry[0] is None and (key, channel) in limit:
                limit[(key, channel)] -= q
            got.append((entry[0], q))
        draws[arc] = got
    return draws


def _reasons(c: Compiled, x: np.ndarray, unfilled: np.ndarray) -> dict[int, UnfilledReason]:
    """Why each short line is short: restricted, no stock left, node capacity, policy, or cost."""
    if not unfilled.any():  # the usual answer, not worth the arrays below
        return {}
    cp = c.cp
    rows, arcs = cp.row_of_arcs()
    left = cp.row_cap - np.bincount(rows, weights=x[arcs], minlength=cp.n_rows)
    arc_room = np.full(cp.n_arcs, np.inf)
    np.minimum.at(arc_room, arcs, left[rows])
    used = np.bincount(cp.arc_pkg, weights=x, minlength=cp.n_packages) > 0
    now_used = used & (cp.pkg_wait_days == 0)
    node_pk = np.bincount(cp.pkg_node[now_used], minlength=cp.n_nodes)
    arc_now = cp.pkg_wait_days[cp.arc_pkg] == 0
    node_units = np.bincount(cp.pkg_node[cp.arc_pkg[arc_now]], weights=x[arc_now], minlength=cp.n_nodes)
    node_full = (node_pk >= cp.node_max_packages) | (node_units >= cp.node_max_units)
    n_pk = np.bincount(cp.pkg_order, weights=used, minlength=cp.n_orders)
    out: dict[int, UnfilledReason] = {}
    for line in np.flatnonzero(unfilled > 0).tolist():
        o = cp.line_order[line]
        mine = np.flatnonzero(cp.arc_line == line)
        open_arcs = mine[arc_room[mine] > 0]
        blocked = arc_now[open_arcs] & node_full[cp.pkg_node[cp.arc_pkg[open_arcs]]]
        if c.line_restricted[line]:
            out[line] = "restricted"
        elif not len(open_arcs):
            out[line] = "no_stock"
        elif blocked.all():
            out[line] = "capacity"
        elif cp.order_all_or_nothing[o] or not cp.line_splittable[line] or n_pk[o] >= cp.order_max_packages[o]:
            out[line] = "policy"
        else:
            out[line] = "uneconomic"
    return out


def certificate(c: Compiled, prices: Prices, bound: float) -> Certificate:
    """The prices behind a Lagrangian bound, named by ids (zero prices left out)."""
    keys = c.row_keys()
    rows = [
        RowPrice(node=n, sku=k, channel=ch, from_wait_days=t, price=float(prices.row[r]))
        for r, (n, k, ch, t) in enumerate(keys)
        if prices.row[r] > 0
    ]
    nodes = [
        NodePrice(node=node.id, per_package=float(prices.node_packages[i]), per_unit=float(prices.node_units[i]))
        for i, node in enumerate(c.problem.nodes)
        if prices.node_packages[i] > 0 or prices.node_units[i] > 0
    ]
    return Certificate(bound=bound, row_prices=rows, node_prices=nodes)


def decode(c: Compiled, sol: Solution) -> AllocationResult:
    """The allocation result of `sol` on the compiled problem `c`."""
    cp, p = c.cp, c.problem
    x = np.asarray(sol.x, dtype=np.int64)
    ev = evaluate(cp, x)
    draws = _inbound_fifo(c, x)

    # Split cost goes to every package of an order beyond its first.
    used = np.flatnonzero(ev.pkg_used)
    first_of_order = np.full(cp.n_orders, -1)
    for pkg in used[::-1].tolist():
        first_of_order[cp.pkg_order[pkg]] = pkg
    arcs_by_pkg: dict[int, list[int]] = defaultdict(list)
    for arc in np.flatnonzero(x > 0).tolist():
        arcs_by_pkg[int(cp.arc_pkg[arc])].append(arc)

    packages = []
    for pkg in used.tolist():
        o = int(cp.pkg_order[pkg])
        order = p.orders[o]
        arcs = arcs_by_pkg[pkg]
        lines = []
        for arc in arcs:
            _, li = c.line_ref[cp.arc_line[arc]]
            line = order.lines[li]
            got = draws[arc]
            lines.append(
                PackageLine(
                    line=line.id,
                    sku=line.sku,
                    quantity=int(x[arc]),
                    from_stock=sum(q for src, q in got if src is None),
                    from_inbound=[InboundUse(inbound=src, quantity=q) for src, q in got if src is not None],
                )
            )
        unit = (cp.arc_cost[arcs] * x[arcs, None]).sum(axis=0)
        cost = _breakdown(
            {
                "shipping": ev.pkg_shipping[pkg] + unit[SHIPPING],
                "handling": cp.pkg_cost[pkg, HANDLING] + unit[HANDLING],
                "backorder": unit[BACKORDER],
                "duties": ev.pkg_duty[pkg],
                "split": cp.order_split_cost[o] if first_of_order[o] != pkg else 0.0,
            }
        )
        wait = int(cp.pkg_wait_days[pkg])
        packages.append(
            Package(
                order=order.id,
                node=p.nodes[cp.pkg_node[pkg]].id,
                ship_date=p.as_of + dt.timedelta(days=wait),
                wait_days=wait,
                lines=lines,
                weight_kg=round(float(ev.pkg_weight_kg[pkg]), 6),
                value=round(float(ev.pkg_value[pkg]), 6),
                distance_km=round(float(cp.pkg_distance_km[pkg]), 3),
                zone=None if c.order_pickup[o] else int(c.pkg_zone[pkg]),
                cross_border=bool(cp.pkg_cross_border[pkg]),
                dutiable=bool(ev.pkg_dutiable[pkg]),
                cost=cost,
            )
        )

    reasons = _reasons(c, x, ev.line_unfilled)
    unfilled = []
    for line, reason in reasons.items():
        o, li = c.line_ref[line]
        ln = p.orders[o].lines[li]
        unfilled.append(
            UnfilledLine(
                order=p.orders[o].id, line=ln.id, sku=ln.sku, quantity=int(ev.line_unfilled[line]), reason=reason
            )
        )

    units = int(cp.line_qty.sum())
    arc_wait = cp.pkg_wait_days[cp.arc_pkg]
    now_units = int(x[arc_wait == 0].sum())
    later_units = int(x[arc_wait > 0].sum())
    n_pk = np.bincount(cp.pkg_order, weights=ev.pkg_used, minlength=cp.n_orders)
    served = int((n_pk > 0).sum())
    shipped_units = now_units + later_units
    kpis = Kpis(
        orders=cp.n_orders,
        units=units,
        units_shipped_now=now_units,
        units_backordered=later_units,
        units_unfilled=int(ev.line_unfilled.sum()),
        fill_rate=shipped_units / units if units else 1.0,
        fill_rate_now=now_units / units if units else 1.0,
        packages=len(used),
        packages_per_order=len(used) / served if served else 0.0,
        split_orders=int((n_pk > 1).sum()),
        mean_distance_km=float((x * cp.pkg_distance_km[cp.arc_pkg]).sum() / shipped_units) if shipped_units else 0.0,
        cross_border_packages=int(cp.pkg_cross_border[used].sum()),
        duties=float(ev.pkg_duty.sum()),
    )
    report = SolverReport(
        certificate=None if sol.prices is None or sol.bound is None else certificate(c, sol.prices, sol.bound),
        solver=sol.solver,
        status=sol.status,
        objective=ev.total,
        bound=sol.bound,
        gap=sol.gap,
        runtime_s=sol.runtime_s,
        seed=sol.seed,
    )
    return AllocationResult(
        currency=p.currency,
        packages=packages,
        unfilled=unfilled,
        cost=_breakdown(ev.as_dict()),
        kpis=kpis,
        solver=report,
    )
