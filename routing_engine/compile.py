"""Compile a validated problem into the solver's arrays: candidates, costs and coupling rows.

Geography is resolved once, every (order, node, ship date) option is priced, and what decoding needs
to turn arrays back into ids is kept beside the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing_engine import costs, geo
from routing_engine.model import Problem
from routing_engine.validate import check_problem
from solvers.problem import BACKORDER, HANDLING, PARTS, SHIPPING, BoolArray, CompiledProblem, FloatArray, IntArray

#: Stand-in for "no limit" on packages per order.
NO_LIMIT = 1_000_000


@dataclass(frozen=True, eq=False)
class Compiled:
    """The solver's arrays plus what decoding needs to map them back to the problem's ids."""

    cp: CompiledProblem
    problem: Problem
    line_ref: list[tuple[int, int]]  # [L] (order index, line index within the order)
    line_sku: IntArray  # [L]
    line_restricted: BoolArray  # [L] no node may ship this SKU to this destination
    order_country: list[str]  # [O]
    order_pickup: BoolArray  # [O]
    pkg_zone: IntArray  # [P] 1-based rate-card zone; 0 for a pickup
    src_wait: IntArray  # [S] wait days of each (node, date) source
    row_node: IntArray  # [R]
    row_sku: IntArray  # [R]
    row_channel: list[str | None]  # [R] the channel a buffer row limits; None for all channels
    row_from_wait: IntArray  # [R] the row counts what ships before the next arrival after this wait

    def row_keys(self) -> list[tuple[str, str, str | None, int]]:
        """A stable name for each supply row: (node, sku, channel or None, wait days it starts at)."""
        nodes, skus = self.problem.nodes, self.problem.skus
        return [
            (nodes[n].id, skus[k].id, ch, int(t))
            for n, k, ch, t in zip(self.row_node, self.row_sku, self.row_channel, self.row_from_wait, strict=True)
        ]


def _as_f(a: object) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def compile_problem(problem: Problem) -> Compiled:
    """Validate, resolve and price `problem`; raises a `ProblemError` naming what is wrong."""
    check_problem(problem)
    pol = problem.policy
    nodes, skus, orders = problem.nodes, problem.skus, problem.orders
    N, K, O = len(nodes), len(skus), len(orders)
    node_ix = {n.id: i for i, n in enumerate(nodes)}
    sku_ix = {s.id: i for i, s in enumerate(skus)}
    sku_weight = _as_f([s.weight_kg for s in skus])

    # Orders and lines.
    order_lat, order_lon, order_country = np.empty(O), np.empty(O), []
    order_pickup = np.zeros(O, bool)
    for o, order in enumerate(orders):
        if order.pickup_node is not None:
            node = nodes[node_ix[order.pickup_node]]
            order_lat[o], order_lon[o] = node.lat, node.lon
            order_country.append(node.country)
            order_pickup[o] = True
        else:
            order_lat[o], order_lon[o] = geo.resolve(order.destination, f"orders[{order.id}].destination")
            order_country.append(order.destination.country)
    line_ref = [(o, i) for o, order in enumerate(orders) for i in range(len(order.lines))]
    all_lines = [orders[o].lines[i] for o, i in line_ref]
    line_order = np.array([o for o, _ in line_ref], dtype=np.int64)
    line_sku = np.array([sku_ix[li.sku] for li in all_lines], dtype=np.int64)
    line_qty = np.array([li.quantity for li in all_lines], dtype=np.int64)
    countries = sorted(set(order_country) | {n.country for n in nodes})
    c_ix = {c: i for i, c in enumerate(countries)}
    order_c = np.array([c_ix[c] for c in order_country], dtype=np.int64)
    restricted = np.zeros((K, len(countries)), bool)
    for k, sku in enumerate(skus):
        for c in sku.restricted_countries:
            if c in c_ix:
                restricted[k, c_ix[c]] = True
    line_restricted = restricted[line_sku, order_c[line_order]]

    # Which nodes may serve which orders: destination country, channel, pickup store.
    serves = np.array([[n.serves(c) for c in countries] for n in nodes], bool).reshape(N, len(countries))
    eligible = serves[:, order_c].T.copy()  # [O, N]
    channel_nodes = {c.id: [node_ix[n] for n in c.nodes] for c in problem.channels}
    for o, order in enumerate(orders):
        if order.channel in channel_nodes:
            allowed = np.zeros(N, bool)
            allowed[channel_nodes[order.channel]] = True
            eligible[o] &= allowed
        if order.pickup_node is not None:
            eligible[o] = False
            eligible[o, node_ix[order.pickup_node]] = True
    line_restricted |= ~eligible[line_order].any(axis=1)

    # Sources: each node ships now (wait 0) or on the ETA of inbound supply it receives.
    supply_now = np.zeros((N, K), np.int64)
    for level in problem.stock:
        supply_now[node_ix[level.node], sku_ix[level.sku]] += level.available
    arrivals: list[tuple[int, int, int, int]] = []  # node, sku, wait days, quantity
    if pol.backorders:
        for i in problem.inbound:
            wait = max(1, (i.eta - problem.as_of).days)  # overdue supply counts as arriving tomorrow
            if pol.max_backorder_days is None or wait <= pol.max_backorder_days:
                arrivals.append((node_ix[i.node], sku_ix[i.sku], wait, i.quantity))
    src = sorted({(n, 0) for n in range(N)} | {(n, w) for n, _, w, _ in arrivals})
    src_ix = {s: i for i, s in enumerate(src)}
    src_node = np.array([n for n, _ in src], dtype=np.int64)
    src_wait = np.array([w for _, w in src], dtype=np.int64)
    cum = supply_now[src_node].copy()  # [S, K] supply arrived at the node by the source's date
    arrives_at = np.zeros((len(src), K), bool)  # [S, K] supply arrives exactly then
    for n, k, w, q in arrivals:
        cum[(src_node == n) & (src_wait >= w), k] += q
        arrives_at[src_ix[(n, w)], k] = True

    # Arcs: (line, source) where the node may serve the order and has, or will have, the SKU. A late
    # source is a candidate only for orders with a line whose supply arrives exactly then.
    ok = eligible[line_order][:, src_node].T & ~line_restricted & (cum[:, line_sku] > 0)  # [S, L]
    for j in np.flatnonzero(src_wait > 0).tolist():
        gets = np.bincount(line_order, weights=arrives_at[j, line_sku], minlength=O) > 0
        ok[j] &= gets[line_order]
    arc_src, arc_line = (v.astype(np.int64) for v in np.nonzero(ok))  # by source, then line
    pkg_key, arc_pkg = np.unique(line_order[arc_line] * len(src) + arc_src, return_inverse=True)
    order_by = np.lexsort((arc_line, arc_pkg))
    arc_line, arc_src, arc_pkg = arc_line[order_by], arc_src[order_by], arc_pkg[order_by].astype(np.int64)
    pkg_order = (pkg_key // len(src)).astype(np.int64)
    pkg_src = (pkg_key % len(src)).astype(np.int64)
    pkg_node = src_node[pkg_src]
    P, A = len(pkg_key), len(arc_line)

    # Geography of each package.
    node_lat, node_lon = _as_f([n.lat for n in nodes]), _as_f([n.lon for n in nodes])
    pkg_km = geo.distance_km(order_lat[pkg_order], order_lon[pkg_order], node_lat[pkg_node], node_lon[pkg_node])
    pkg_km = np.where(order_pickup[pkg_order], 0.0, np.asarray(pkg_km, float))
    node_c = np.array([c_ix[n.country] for n in nodes], dtype=np.int64)
    pkg_cross = (node_c[pkg_node] != order_c[pkg_order]) & ~order_pickup[pkg_order]

    # Prices: carrier (tariff of the node; none for pickups), handling, waiting, bands.
    pkg_cost = np.zeros((P, len(PARTS)))
    arc_cost = np.zeros((A, len(PARTS)))
    arc_w = sku_weight[line_sku[arc_line]]
    pkg_zone = np.zeros(P, np.int64)
    band_pkg_l, band_cap_l, band_price_l = [], [], []
    node_fx = _as_f([problem.rate(n.currency or problem.currency) for n in nodes])
    pkg_cost[:, HANDLING] = _as_f([n.handling_per_package for n in nodes])[pkg_node] * node_fx[pkg_node]
    arc_node = pkg_node[arc_pkg]
    arc_cost[:, HANDLING] = _as_f([n.handling_per_unit for n in nodes])[arc_node] * node_fx[arc_node]
    arc_cost[:, BACKORDER] = pol.backorder_cost_per_unit_day * src_wait[arc_src]
    shipped = ~order_pickup[pkg_order]
    pickup_pkgs = np.flatnonzero(~shipped)
    band_pkg_l.append(pickup_pkgs)
    band_cap_l.append(np.full(len(pickup_pkgs), np.inf))
    band_price_l.append(np.zeros(len(pickup_pkgs)))
    node_tariff = np.array([n.tariff for n in nodes])
    for name, tariff in problem.tariffs.items():
        fx = problem.rate(tariff.currency)
        sel = np.flatnonzero(shipped & (node_tariff[pkg_node] == name))
        zone = costs.zone_index(tariff, pkg_km[sel])
        pkg_zone[sel] = zone + 1
        pkg_cost[sel, SHIPPING] = costs.package_fixed(tariff, pkg_km[sel]) * fx
        caps = costs.band_caps_kg(tariff)
        prices = np.asarray(tariff.prices, float)[zone] * fx  # [len(sel), bands]
        band_pkg_l.append(np.repeat(sel, len(caps)))
        band_cap_l.append(np.tile(caps, len(sel)))
        band_price_l.append(prices.ravel())
        arcs = np.flatnonzero(shipped[arc_pkg] & (node_tariff[arc_node] == name))
        arc_cost[arcs, SHIPPING] = costs.unit_shipping(tariff, pkg_km[arc_pkg[arcs]], arc_w[arcs]) * fx
    band_pkg, band_cap, band_price = map(np.concatenate, (band_pkg_l, band_cap_l, band_price_l))
    by = np.lexsort((band_cap, band_pkg))
    band_pkg, band_cap, band_price = band_pkg[by].astype(np.int64), band_cap[by], band_price[by]

    # Duties: cross-border packages into a country with import rules, on value in its currency.
    unit_price = _as_f(
        [li.unit_price * problem.rate(orders[o].currency) for (o, _), li in zip(line_ref, all_lines, strict=True)]
    )
    pkg_dm, pkg_rate, pkg_fee = np.full(P, np.inf), np.zeros(P), np.zeros(P)
    dest_fx = _as_f(
        [problem.rate(problem.countries[c].currency) if c in problem.countries else 1.0 for c in order_country]
    )
    for c, rule in problem.countries.items() if pkg_cross.any() else ():  # no package crosses: no duty
        if c not in c_ix:
            continue
        sel = np.flatnonzero(pkg_cross & (order_c[pkg_order] == c_ix[c]))
        fx = problem.rate(rule.currency)
        pkg_dm[sel], pkg_rate[sel], pkg_fee[sel] = rule.de_minimis, rule.duty_rate * fx, rule.clearance_fee * fx
    arc_value = unit_price[arc_line] / dest_fx[line_order[arc_line]]

    # Supply rows: per (node, SKU) and each date supply arrives, the units shipped before the next
    # arrival never exceed what has arrived by then; channel buffers withhold units from a channel.
    row_cap_l, row_node_l, row_sku_l, row_members = [], [], [], []
    row_channel_l: list[str | None] = []
    row_wait_l: list[int] = []
    arc_sku = line_sku[arc_line]
    group = arc_node * K + arc_sku
    g_order = np.argsort(group, kind="stable")
    g_keys, g_start = np.unique(group[g_order], return_index=True)
    g_end = np.append(g_start[1:], len(g_order)) if len(g_start) else g_start
    changes: dict[int, list[tuple[int, int]]] = {}
    for n, k, w, q in arrivals:
        changes.setdefault(n * K + k, []).append((w, q))
    buffers: dict[int, dict[str, int]] = {}
    for level in problem.stock:
        if level.channel_buffers:
            buffers[node_ix[level.node] * K + sku_ix[level.sku]] = dict(level.channel_buffers)
    arc_channel = np.array([orders[o].channel for o in line_order[arc_line]]) if buffers else np.array([], str)
    for key, lo, hi in zip(g_keys.tolist(), g_start.tolist(), g_end.tolist(), strict=True):
        members = g_order[lo:hi]
        n, k = divmod(key, K)
        steps = sorted(changes.get(key, []))
        dates = [0, *sorted({w for w, _ in steps})]
        base = int(supply_now[n, k])
        limits = [(None, 0)] + [(ch, b) for ch, b in buffers.get(key, {}).items() if b > 0]
        for channel, withheld in limits:
            mem = members if channel is None else members[arc_channel[members] == channel]
            if not len(mem):
                continue
            for step, t in enumerate(dates):
                # The last date's row takes every arc: no wait is that late (the usual, only, row).
                in_row = mem[src_wait[arc_src[mem]] < dates[step + 1]] if step + 1 < len(dates) else mem
                cap = base + sum(q for w, q in steps if w <= t) - withheld
                if len(in_row):
                    row_cap_l.append(max(0, cap))
                    row_node_l.append(n)
                    row_sku_l.append(k)
                    row_channel_l.append(channel)
                    row_wait_l.append(t)
                    row_members.append(in_row)
    row_ptr = np.cumsum([0, *(len(m) for m in row_members)], dtype=np.int64)
    row_arcs = np.concatenate(row_members).astype(np.int64) if row_members else np.zeros(0, np.int64)

    one_pkg = np.array([pol.ship_complete if o.ship_complete is None else o.ship_complete for o in orders], bool)
    max_pk = np.array([o.max_packages or pol.max_packages_per_order or NO_LIMIT for o in orders], dtype=np.int64)
    cp = CompiledProblem(
        order_max_packages=np.where(one_pkg, 1, max_pk),
        order_all_or_nothing=one_pkg | (not pol.allow_partial),
        order_one_package=one_pkg,
        order_split_cost=np.full(O, pol.split_cost),
        line_order=line_order,
        line_qty=line_qty,
        line_splittable=np.array([li.splittable for li in all_lines], bool),
        line_penalty=np.full(len(all_lines), pol.unfilled_penalty_per_unit),
        pkg_order=pkg_order,
        pkg_node=pkg_node,
        pkg_wait_days=src_wait[pkg_src],
        pkg_distance_km=pkg_km,
        pkg_cross_border=pkg_cross,
        pkg_cost=pkg_cost,
        pkg_de_minimis=pkg_dm,
        pkg_duty_rate=pkg_rate,
        pkg_clearance_fee=pkg_fee,
        band_pkg=band_pkg,
        band_cap_kg=band_cap,
        band_price=band_price,
        arc_line=arc_line,
        arc_pkg=arc_pkg,
        arc_cost=arc_cost,
        arc_weight_kg=arc_w,
        arc_value=arc_value,
        row_cap=np.array(row_cap_l, dtype=np.int64),
        row_ptr=row_ptr,
        row_arcs=row_arcs,
        node_max_packages=_as_f([np.inf if n.max_packages is None else n.max_packages for n in nodes]),
        node_max_units=_as_f([np.inf if n.max_units is None else n.max_units for n in nodes]),
    )
    return Compiled(
        cp=cp,
        problem=problem,
        line_ref=line_ref,
        line_sku=line_sku,
        line_restricted=line_restricted,
        order_country=order_country,
        order_pickup=order_pickup,
        pkg_zone=pkg_zone,
        src_wait=src_wait,
        row_node=np.array(row_node_l, dtype=np.int64),
        row_sku=np.array(row_sku_l, dtype=np.int64),
        row_channel=row_channel_l,
        row_from_wait=np.array(row_wait_l, dtype=np.int64),
    )
