"""An independent reference implementation of the allocation contract, for testing the engine.

Nothing here imports the engine's compiler, cost model, decoder or solvers: only the data model and the
geography helpers, so a mistake in the engine's formulation shows up as a disagreement. `brute_force`
finds the exact optimum of a tiny problem by enumeration; `check_result` verifies any `AllocationResult`
against the contract and recomputes its cost from its packages; `tiny_problems` generates inputs.

The contract, as implemented here (money in `problem.currency`, `rate(c)` = value of one `c` in it):

* Destination: the order's coordinates (or resolved postal code/city); a pickup order is at its pickup
  node, distance 0, destination country = the node's country.
* Eligible nodes: `node.serves(country)` and, if the order's channel is listed, a node of that channel;
  a pickup order only its pickup node (serves and channel do not matter).
* A package is (order, node, wait): wait 0 ships now; wait w = max(1, (eta - as_of).days) of an inbound
  of one of the order's SKUs at that node, only with backorders on and w <= max_backorder_days (if set).
  A line may go into (n, w) if its SKU is not restricted for the destination country and the cumulative
  supply of the SKU at n by w is > 0.
* Supply: for each node n, SKU k and date t, units of k from n with wait <= t <= max(0, on_hand - reserved
  - safety) + inbound at (n, k) with wait <= t; for a channel buffer b of c the same, counting only
  channel-c orders, against max(0, right side - b).
* Capacity: wait-0 packages from n <= max_packages, units in them <= max_units.
* Per order: packages <= order.max_packages or policy.max_packages_per_order; ship-complete (order
  overrides policy) = one package and all-or-nothing; allow_partial False = all-or-nothing; an
  unsplittable line ships whole in one package or not at all.
* Package cost: shipping (not for pickups) = (prices[zone][band] + per_package + per_package_km d + sum over
  lines q (per_unit + per_unit_km d + per_kg w + per_kg_km w d)) rate(tariff currency), zone / band = first
  inclusive limit, else the open-ended last; handling = (per_package + per_unit units) rate(node currency);
  backorder = cost per unit-day x wait x units; duties (cross-border, not pickup, destination has a rule R)
  = (duty_rate V + clearance_fee) rate(R.currency) when the value V in R.currency exceeds de_minimis.
* Per order: split = split_cost x (packages - 1)+, unfilled = penalty x units not shipped.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from routing_engine import geo
from routing_engine.model import AllocationResult, Line, Node, Order, Problem

__all__ = [
    "Oracle",
    "brute_force",
    "brute_force_solution",
    "check_result",
    "costs_close",
    "describe_solution",
    "order_options",
    "tiny_problems",
]

REL_TOL = 1e-6
ABS_TOL = 1e-6
COST_PARTS = ("shipping", "handling", "split", "backorder", "duties", "unfilled")


def costs_close(a: float, b: float, rel: float = REL_TOL, abs_: float = ABS_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# ------------------------------------------------------------------------------------- the contract


@dataclass(frozen=True)
class Dest:
    country: str
    lat: float
    lon: float
    pickup: bool


class Oracle:
    """The contract's rules for one problem, evaluated directly from the problem's fields."""

    def __init__(self, problem: Problem) -> None:
        self.p = problem
        self.pol = problem.policy
        self.nodes: dict[str, Node] = {n.id: n for n in problem.nodes}
        self.skus = {s.id: s for s in problem.skus}
        self.orders: dict[str, Order] = {o.id: o for o in problem.orders}
        self.channel_nodes: dict[str, set[str]] = {c.id: set(c.nodes) for c in problem.channels}
        self.avail: dict[tuple[str, str], int] = defaultdict(int)
        self.buffers: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for s in problem.stock:
            self.avail[(s.node, s.sku)] += max(0, s.on_hand - s.reserved - s.safety_stock)
            for c, b in s.channel_buffers.items():
                self.buffers[(s.node, s.sku)][c] = self.buffers[(s.node, s.sku)].get(c, 0) + b
        # (node, sku) -> list of (wait, quantity) of its inbound supply
        self.inbound: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        self.inbound_by_id = {i.id: i for i in problem.inbound}
        for i in problem.inbound:
            self.inbound[(i.node, i.sku)].append((self.wait_of(i.eta), i.quantity))
        self._dest: dict[str, Dest] = {}
        self._dist: dict[tuple[str, str], float] = {}

    # --- dates and supply

    def wait_of(self, eta: dt.date) -> int:
        return max(1, (eta - self.p.as_of).days)

    def backorder_wait_allowed(self, w: int) -> bool:
        return (
            w > 0 and self.pol.backorders and (self.pol.max_backorder_days is None or w <= self.pol.max_backorder_days)
        )

    def cum_supply(self, node: str, sku: str, t: int) -> int:
        return self.avail.get((node, sku), 0) + sum(q for w, q in self.inbound.get((node, sku), ()) if w <= t)

    def candidate_waits(self, order: Order, node: str) -> list[int]:
        waits = {
            w
            for line in order.lines
            for w, _ in self.inbound.get((node, line.sku), ())
            if self.backorder_wait_allowed(w)
        }
        return [0, *sorted(waits)]

    def wait_allowed(self, order: Order, node: str, w: int) -> bool:
        return w == 0 or w in self.candidate_waits(order, node)[1:]

    # --- geography and eligibility

    def dest(self, order: Order) -> Dest:
        if order.id not in self._dest:
            if order.pickup_node is not None:
                n = self.nodes[order.pickup_node]
                self._dest[order.id] = Dest(n.country, n.lat, n.lon, True)
            else:
                lat, lon = geo.resolve(order.destination, f"orders[{order.id}].destination")
                self._dest[order.id] = Dest(order.destination.country, float(lat), float(lon), False)
        return self._dest[order.id]

    def distance(self, order: Order, node: str) -> float:
        key = (order.id, node)
        if key not in self._dist:
            d = self.dest(order)
            n = self.nodes[node]
            self._dist[key] = 0.0 if d.pickup else float(geo.distance_km(n.lat, n.lon, d.lat, d.lon))
        return self._dist[key]

    def node_eligible(self, order: Order, node: str) -> bool:
        if order.pickup_node is not None:
            return node == order.pickup_node
        n = self.nodes[node]
        if not n.serves(self.dest(order).country):
            return False
        return order.channel not in self.channel_nodes or node in self.channel_nodes[order.channel]

    def eligible_nodes(self, order: Order) -> list[str]:
        return [n.id for n in self.p.nodes if self.node_eligible(order, n.id)]

    def line_allowed(self, order: Order, line: Line, node: str, w: int) -> bool:
        if self.dest(order).country in self.skus[line.sku].restricted_countries:
            return False
        return self.cum_supply(node, line.sku, w) > 0

    # --- per-order policy

    def max_packages(self, order: Order) -> int | None:
        return order.max_packages if order.max_packages is not None else self.pol.max_packages_per_order

    def ship_complete(self, order: Order) -> bool:
        return order.ship_complete if order.ship_complete is not None else self.pol.ship_complete

    def all_or_nothing(self, order: Order) -> bool:
        return self.ship_complete(order) or not self.pol.allow_partial

    # --- costs

    def package_cost(self, order: Order, node: str, w: int, lines: list[tuple[Line, int]]) -> dict[str, float]:
        """Shipping, handling, backorder and duties of one package, plus its descriptive fields."""
        p = self.p
        n = self.nodes[node]
        d = self.distance(order, node)
        dest = self.dest(order)
        units = sum(q for _, q in lines)
        weight = sum(q * self.skus[line.sku].weight_kg for line, q in lines)
        out: dict[str, Any] = {"weight": weight, "distance": d, "units": units}
        shipping = 0.0
        zone = None
        if not dest.pickup:
            t = p.tariffs[n.tariff]
            # Limits are inclusive; a tiny slack keeps float summation order from moving an exact tie.
            z = next((i for i, lim in enumerate(t.zone_limits_km) if d <= lim * (1 + 1e-12)), len(t.zone_limits_km))
            b = next((i for i, lim in enumerate(t.weight_limits_kg) if weight <= lim + 1e-9), len(t.weight_limits_kg))
            zone = z + 1
            raw = t.prices[z][b] + t.per_package + t.per_package_km * d
            for line, q in lines:
                wl = self.skus[line.sku].weight_kg
                raw += q * (t.per_unit + t.per_unit_km * d + t.per_kg * wl + t.per_kg_km * wl * d)
            shipping = raw * p.rate(t.currency)
        handling = (n.handling_per_package + n.handling_per_unit * units) * p.rate(n.currency or p.currency)
        backorder = self.pol.backorder_cost_per_unit_day * w * units
        duties = 0.0
        value = None
        dutiable = False
        cross_border = n.country != dest.country
        rule = p.countries.get(dest.country)
        if rule is not None:
            factor = 1.0 if order.currency == rule.currency else p.rate(order.currency) / p.rate(rule.currency)
            value = sum(q * line.unit_price for line, q in lines) * factor
        # A value equal to de minimis up to rounding (e.g. 60 EUR through USD and back) is not above it.
        if (
            not dest.pickup
            and cross_border
            and rule is not None
            and value is not None
            and value > rule.de_minimis * (1 + 1e-9) + 1e-9
        ):
            dutiable = True
            duties = (rule.duty_rate * value + rule.clearance_fee) * p.rate(rule.currency)
        out.update(
            shipping=shipping,
            handling=handling,
            backorder=backorder,
            duties=duties,
            zone=zone,
            value=value,
            dutiable=dutiable,
            cross_border=cross_border,
        )
        return out

    def order_fixed_costs(self, order: Order, n_packages: int, shipped_units: int) -> dict[str, float]:
        ordered = sum(line.quantity for line in order.lines)
        return {
            "split": self.pol.split_cost * max(0, n_packages - 1),
            "unfilled": self.pol.unfilled_penalty_per_unit * (ordered - shipped_units),
        }

    # --- joint feasibility

    def supply_violations(
        self, usage: dict[tuple[str, str], dict[int, int]], by_channel: dict[tuple[str, str, str], dict[int, int]]
    ) -> list[str]:
        """Supply inequalities for the given usage: (node, sku) -> wait -> units (and per channel)."""
        bad: list[str] = []
        for (n, k), per_wait in usage.items():
            total = 0
            for t in sorted(per_wait):
                total += per_wait[t]
                cap = self.cum_supply(n, k, t)
                if total > cap:
                    bad.append(f"supply: {total} units of {k} from {n} by wait {t} > {cap}")
        for (n, k, c), per_wait in by_channel.items():
            b = self.buffers.get((n, k), {}).get(c)
            if b is None:
                continue
            total = 0
            for t in sorted(per_wait):
                total += per_wait[t]
                cap = max(0, self.cum_supply(n, k, t) - b)
                if total > cap:
                    bad.append(f"buffer: {total} units of {k} from {n} to channel {c} by wait {t} > {cap}")
        return bad

    def capacity_violations(self, pkgs0: dict[str, int], units0: dict[str, int]) -> list[str]:
        bad: list[str] = []
        for node, count in pkgs0.items():
            cap = self.nodes[node].max_packages
            if cap is not None and count > cap:
                bad.append(f"capacity: {count} packages now from {node} > {cap}")
        for node, units in units0.items():
            cap = self.nodes[node].max_units
            if cap is not None and units > cap:
                bad.append(f"capacity: {units} units now from {node} > {cap}")
        return bad


# ------------------------------------------------------------------------------------- brute force


@dataclass
class Option:
    """One feasible decision for one order, its cost and what it consumes."""

    cost: float
    packages: dict[tuple[str, int], list[tuple[int, int]]]  # (node, wait) -> [(line index, units)]
    usage: list[tuple[str, str, int, int]] = field(default_factory=list)  # (node, sku, wait, units)
    pkgs0: dict[str, int] = field(default_factory=dict)
    units0: dict[str, int] = field(default_factory=dict)


def _compositions(q: int, bins: int) -> Iterator[tuple[int, ...]]:
    """Every way to put q identical units into `bins` ordered bins."""
    if bins == 1:
        yield (q,)
        return
    for first in range(q + 1):
        for rest in _compositions(q - first, bins - 1):
            yield (first, *rest)


def order_options(o: Oracle, order: Order) -> list[Option]:
    """Every decision for `order` allowed by its own policy and (alone) by supply and capacity, cheapest first."""
    cands = [(n, w) for n in o.eligible_nodes(order) for w in o.candidate_waits(order, n)]
    per_line: list[list[tuple[tuple[int, int], ...]]] = []  # per line: list of ((cand index, units), ...)
    for line in order.lines:
        allowed = [i for i, (n, w) in enumerate(cands) if o.line_allowed(order, line, n, w)]
        dists: list[tuple[tuple[int, int], ...]] = [()]
        if not line.splittable:
            dists += [((i, line.quantity),) for i in allowed]
        else:
            for comp in _compositions(line.quantity, len(allowed) + 1):  # last bin: unfilled
                if comp[-1] == line.quantity:
                    continue
                dists.append(tuple((i, u) for i, u in zip(allowed, comp[:-1], strict=True) if u > 0))
        per_line.append(dists)
    max_pk = o.max_packages(order)
    all_or_nothing = o.all_or_nothing(order)
    ship_complete = o.ship_complete(order)
    ordered = sum(line.quantity for line in order.lines)
    options: list[Option] = []
    for combo in itertools.product(*per_line):
        packages: dict[tuple[str, int], list[tuple[int, int]]] = {}
        shipped = 0
        for li, dist in enumerate(combo):
            for ci, u in dist:
                packages.setdefault(cands[ci], []).append((li, u))
                shipped += u
        if max_pk is not None and len(packages) > max_pk:
            continue
        if ship_complete and len(packages) > 1:
            continue
        if all_or_nothing and shipped not in (0, ordered):
            continue
        usage_map: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        chan_map: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        usage: list[tuple[str, str, int, int]] = []
        pkgs0: dict[str, int] = {}
        units0: dict[str, int] = {}
        cost = 0.0
        for (n, w), items in packages.items():
            for li, u in items:
                k = order.lines[li].sku
                usage_map[(n, k)][w] += u
                chan_map[(n, k, order.channel)][w] += u
                usage.append((n, k, w, u))
            if w == 0:
                pkgs0[n] = pkgs0.get(n, 0) + 1
                units0[n] = units0.get(n, 0) + sum(u for _, u in items)
            pc = o.package_cost(order, n, w, [(order.lines[li], u) for li, u in items])
            cost += pc["shipping"] + pc["handling"] + pc["backorder"] + pc["duties"]
        if o.supply_violations(usage_map, chan_map) or o.capacity_violations(pkgs0, units0):
            continue
        fixed = o.order_fixed_costs(order, len(packages), shipped)
        cost += fixed["split"] + fixed["unfilled"]
        options.append(Option(cost, packages, usage, pkgs0, units0))
    options.sort(key=lambda op: op.cost)
    return options


@dataclass
class Solution:
    cost: float
    choices: dict[str, Option]
    options_per_order: dict[str, int]
    nodes_visited: int


def brute_force_solution(problem: Problem) -> Solution:
    """The exact optimum: per-order options, then depth-first branch and bound over orders."""
    o = Oracle(problem)
    orders = list(problem.orders)
    opts = [order_options(o, order) for order in orders]
    suffix_min = [0.0] * (len(orders) + 1)
    for i in range(len(orders) - 1, -1, -1):
        suffix_min[i] = suffix_min[i + 1] + opts[i][0].cost
    # Shipping nothing is always feasible: it is the incumbent.
    best_cost = sum(next(op.cost for op in ops if not op.packages) for ops in opts)
    best: list[Option] = [next(op for op in ops if not op.packages) for ops in opts]
    usage: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    chan: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    pkgs0: dict[str, int] = defaultdict(int)
    units0: dict[str, int] = defaultdict(int)
    chosen: list[Option] = []
    visited = 0

    def apply(order: Order, op: Option, sign: int) -> None:
        for n, k, w, u in op.usage:
            usage[(n, k)][w] += sign * u
            chan[(n, k, order.channel)][w] += sign * u
        for n, c in op.pkgs0.items():
            pkgs0[n] += sign * c
        for n, u in op.units0.items():
            units0[n] += sign * u

    def feasible(order: Order, op: Option) -> bool:
        touched = {(n, k) for n, k, _, _ in op.usage}
        sub = {key: usage[key] for key in touched}
        sub_c = {(n, k, order.channel): chan[(n, k, order.channel)] for n, k in touched}
        nodes = set(op.pkgs0) | set(op.units0)
        return not o.supply_violations(sub, sub_c) and not o.capacity_violations(
            {n: pkgs0[n] for n in nodes}, {n: units0[n] for n in nodes}
        )

    def dfs(i: int, partial: float) -> None:
        nonlocal best_cost, best, visited
        visited += 1
        if i == len(orders):
            if partial < best_cost - 1e-12:
                best_cost, best = partial, list(chosen)
            return
        for op in opts[i]:
            if partial + op.cost + suffix_min[i + 1] >= best_cost - 1e-12:
                break
            apply(orders[i], op, +1)
            if feasible(orders[i], op):
                chosen.append(op)
                dfs(i + 1, partial + op.cost)
                chosen.pop()
            apply(orders[i], op, -1)

    dfs(0, 0.0)
    return Solution(
        cost=best_cost,
        choices={order.id: op for order, op in zip(orders, best, strict=True)},
        options_per_order={order.id: len(ops) for order, ops in zip(orders, opts, strict=True)},
        nodes_visited=visited,
    )


def brute_force(problem: Problem) -> float:
    """Minimum total cost over all feasible decisions, by exact enumeration (tiny problems only)."""
    return brute_force_solution(problem).cost


def describe_solution(problem: Problem, sol: Solution) -> str:
    lines = [f"brute force optimum {sol.cost:.6f}"]
    for order in problem.orders:
        op = sol.choices[order.id]
        pk = {f"{n}@{w}": [(order.lines[li].id, u) for li, u in items] for (n, w), items in op.packages.items()}
        lines.append(f"  {order.id}: cost {op.cost:.6f} packages {pk}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ check_result


def check_result(problem: Problem, result: AllocationResult, *, strict_fields: bool = True) -> list[str]:
    """Every way `result` breaks the contract for `problem` (empty when it is a valid allocation).

    Hard constraints, per-order policy, unfilled quantities and costs (recomputed from the packages) are
    always checked. With `strict_fields` the descriptive package fields (weight, distance, zone, value,
    flags, ship date, stock/inbound provenance) and basic KPIs are checked too.
    """
    o = Oracle(problem)
    errs: list[str] = []
    if result.currency != problem.currency:
        errs.append(f"result currency {result.currency} != problem currency {problem.currency}")
    shipped: dict[tuple[str, str], int] = defaultdict(int)  # (order, line) -> units
    pkgs_per_order: dict[str, int] = defaultdict(int)
    lines_pkgs: dict[tuple[str, str], set[int]] = defaultdict(set)  # (order, line) -> package indices
    usage: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    chan: dict[tuple[str, str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    pkgs0: dict[str, int] = defaultdict(int)
    units0: dict[str, int] = defaultdict(int)
    seen_pkg: set[tuple[str, str, int]] = set()
    inbound_used: dict[str, int] = defaultdict(int)
    stock_used: dict[tuple[str, str], int] = defaultdict(int)
    parts = dict.fromkeys(COST_PARTS, 0.0)
    units_now = units_later = 0
    cross_border_pkgs = 0

    for pi, pkg in enumerate(result.packages):
        where = f"package {pi} ({pkg.order} from {pkg.node} wait {pkg.wait_days})"
        order = o.orders.get(pkg.order)
        if order is None or pkg.node not in o.nodes:
            errs.append(f"{where}: unknown order or node")
            continue
        if not o.node_eligible(order, pkg.node):
            errs.append(f"{where}: node not eligible for the order")
        w = pkg.wait_days
        if not o.wait_allowed(order, pkg.node, w):
            errs.append(f"{where}: wait {w} not allowed (candidates {o.candidate_waits(order, pkg.node)})")
        key = (pkg.order, pkg.node, w)
        if key in seen_pkg:
            errs.append(f"{where}: a second package for the same order, node and wait")
        seen_pkg.add(key)
        if not pkg.lines:
            errs.append(f"{where}: empty package")
        pkgs_per_order[pkg.order] += 1
        by_id = {line.id: line for line in order.lines}
        content: list[tuple[Line, int]] = []
        seen_lines: set[str] = set()
        for pl in pkg.lines:
            line = by_id.get(pl.line)
            if line is None:
                errs.append(f"{where}: unknown line {pl.line}")
                continue
            if pl.line in seen_lines:
                errs.append(f"{where}: line {pl.line} twice in one package")
            seen_lines.add(pl.line)
            if pl.sku != line.sku:
                errs.append(f"{where}: line {pl.line} sku {pl.sku} != ordered {line.sku}")
            if not o.line_allowed(order, line, pkg.node, w):
                errs.append(f"{where}: line {pl.line} ({line.sku}) not allowed in this package")
            shipped[(order.id, line.id)] += pl.quantity
            lines_pkgs[(order.id, line.id)].add(pi)
            usage[(pkg.node, line.sku)][w] += pl.quantity
            chan[(pkg.node, line.sku, order.channel)][w] += pl.quantity
            content.append((line, pl.quantity))
            if strict_fields:
                from_inbound = sum(u.quantity for u in pl.from_inbound)
                if pl.from_stock + from_inbound != pl.quantity:
                    errs.append(
                        f"{where}: line {pl.line} from_stock {pl.from_stock} + inbound {from_inbound} != {pl.quantity}"
                    )
                stock_used[(pkg.node, line.sku)] += pl.from_stock
                for use in pl.from_inbound:
                    inb = o.inbound_by_id.get(use.inbound)
                    if inb is None or inb.node != pkg.node or inb.sku != line.sku:
                        errs.append(f"{where}: line {pl.line} draws on inbound {use.inbound} of another node/sku")
                        continue
                    if o.wait_of(inb.eta) > w:
                        errs.append(f"{where}: line {pl.line} draws on inbound {use.inbound} arriving after wait {w}")
                    inbound_used[use.inbound] += use.quantity
        units = sum(q for _, q in content)
        if w == 0:
            pkgs0[pkg.node] += 1
            units0[pkg.node] += units
            units_now += units
        else:
            units_later += units
        pc = o.package_cost(order, pkg.node, w, content)
        for part in ("shipping", "handling", "backorder", "duties"):
            parts[part] += pc[part]
            if not costs_close(getattr(pkg.cost, part), pc[part]):
                errs.append(f"{where}: {part} {getattr(pkg.cost, part)} != recomputed {pc[part]}")
        cross_border_pkgs += bool(pc["cross_border"])
        if strict_fields:
            checks: list[tuple[str, Any, Any]] = [
                ("weight_kg", pkg.weight_kg, pc["weight"]),
                ("distance_km", pkg.distance_km, pc["distance"]),
                ("zone", pkg.zone, pc["zone"]),
                ("cross_border", pkg.cross_border, pc["cross_border"]),
                ("dutiable", pkg.dutiable, pc["dutiable"]),
            ]
            if pc["value"] is not None:
                checks.append(("value", pkg.value, pc["value"]))
            for name, got, want in checks:
                if name == "distance_km":  # reported rounded to metres
                    ok = abs(got - want) <= 1e-3 + 1e-9 * want
                elif isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
                    ok = costs_close(float(got), want)
                else:
                    ok = got == want
                if not ok:
                    errs.append(f"{where}: {name} {got!r} != expected {want!r}")
            if pkg.ship_date < problem.as_of or (w == 0) != (pkg.ship_date == problem.as_of):
                errs.append(f"{where}: ship_date {pkg.ship_date} inconsistent with wait {w}")

    errs += o.supply_violations(usage, chan)
    errs += o.capacity_violations(pkgs0, units0)
    if strict_fields:
        for iid, used in inbound_used.items():
            if used > o.inbound_by_id[iid].quantity:
                errs.append(f"inbound {iid}: {used} units used > {o.inbound_by_id[iid].quantity}")
        for (n, k), used in stock_used.items():
            if used > o.avail.get((n, k), 0):
                errs.append(f"stock {n}/{k}: {used} units from stock > available {o.avail.get((n, k), 0)}")

    unfilled: dict[tuple[str, str], int] = defaultdict(int)
    for u in result.unfilled:
        order = o.orders.get(u.order)
        line = next((li for li in order.lines if li.id == u.line), None) if order else None
        if line is None:
            errs.append(f"unfilled: unknown line {u.order}/{u.line}")
            continue
        if u.sku != line.sku:
            errs.append(f"unfilled {u.order}/{u.line}: sku {u.sku} != {line.sku}")
        unfilled[(u.order, u.line)] += u.quantity

    total_units = total_unfilled = split_orders = 0
    for order in problem.orders:
        n_pk = pkgs_per_order.get(order.id, 0)
        ordered = sum(line.quantity for line in order.lines)
        got = 0
        for line in order.lines:
            s = shipped.get((order.id, line.id), 0)
            got += s
            if s > line.quantity:
                errs.append(f"order {order.id} line {line.id}: {s} units shipped > {line.quantity} ordered")
            if unfilled.get((order.id, line.id), 0) != line.quantity - s:
                errs.append(
                    f"order {order.id} line {line.id}: unfilled {unfilled.get((order.id, line.id), 0)}"
                    f" != ordered {line.quantity} - shipped {s}"
                )
            if not line.splittable:
                if len(lines_pkgs.get((order.id, line.id), ())) > 1:
                    errs.append(f"order {order.id} line {line.id}: unsplittable line in several packages")
                if s not in (0, line.quantity):
                    errs.append(f"order {order.id} line {line.id}: unsplittable line partly shipped ({s})")
        max_pk = o.max_packages(order)
        if max_pk is not None and n_pk > max_pk:
            errs.append(f"order {order.id}: {n_pk} packages > max {max_pk}")
        if o.ship_complete(order) and n_pk > 1:
            errs.append(f"order {order.id}: ship-complete order in {n_pk} packages")
        if o.all_or_nothing(order) and got not in (0, ordered):
            errs.append(f"order {order.id}: all-or-nothing order ships {got} of {ordered} units")
        fixed = o.order_fixed_costs(order, n_pk, got)
        parts["split"] += fixed["split"]
        parts["unfilled"] += fixed["unfilled"]
        total_units += ordered
        total_unfilled += ordered - got
        split_orders += n_pk > 1

    c = result.cost
    total = sum(parts.values())
    for part in COST_PARTS:
        if not costs_close(getattr(c, part), parts[part]):
            errs.append(f"cost.{part} {getattr(c, part)} != recomputed {parts[part]}")
    if not costs_close(c.total, total):
        errs.append(f"cost.total {c.total} != recomputed {total}")
    if not costs_close(c.total, sum(getattr(c, part) for part in COST_PARTS)):
        errs.append(f"cost.total {c.total} != sum of its parts {sum(getattr(c, p) for p in COST_PARTS)}")

    if strict_fields:
        k = result.kpis
        for name, got_v, want in [
            ("orders", k.orders, len(problem.orders)),
            ("units", k.units, total_units),
            ("units_shipped_now", k.units_shipped_now, units_now),
            ("units_backordered", k.units_backordered, units_later),
            ("units_unfilled", k.units_unfilled, total_unfilled),
            ("packages", k.packages, len(result.packages)),
            ("split_orders", k.split_orders, split_orders),
            ("cross_border_packages", k.cross_border_packages, cross_border_pkgs),
        ]:
            if got_v != want:
                errs.append(f"kpis.{name} {got_v} != {want}")
        if not costs_close(k.duties, parts["duties"]):
            errs.append(f"kpis.duties {k.duties} != {parts['duties']}")
    return errs


# ----------------------------------------------------------------------------------- tiny problems

AS_OF = dt.date(2026, 1, 10)
#: Boxes inside each country (lat range, lon range): geography itself is not what these tests test.
BOXES = {
    "US": ((33.0, 44.0), (-118.0, -78.0)),
    "CA": ((44.0, 52.0), (-122.0, -72.0)),
    "GB": ((51.0, 54.5), (-2.5, 0.0)),
}
FX = {"CAD": 0.73, "GBP": 1.27, "EUR": 1.08}
#: Sums of these weights are exact in binary, so weight-band boundaries are hit exactly.
WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
WEIGHT_LIMITS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


@st.composite
def _point(draw: st.DrawFn, country: str) -> tuple[float, float]:
    (la0, la1), (lo0, lo1) = BOXES[country]
    lat = draw(st.integers(0, 1000)) / 1000 * (la1 - la0) + la0
    lon = draw(st.integers(0, 1000)) / 1000 * (lo1 - lo0) + lo0
    return round(lat, 4), round(lon, 4)


def _money(draw: st.DrawFn, lo: float, hi: float, *, zero: bool = True) -> float:
    if zero and draw(st.integers(1, 3)) == 3:
        return 0.0
    return round(draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False)), 2)


@st.composite
def _tariff(draw: st.DrawFn, currencies: list[str]) -> dict[str, Any]:
    zone_limit = draw(st.sampled_from([300.0, 1500.0, 4000.0]))
    n_limits = draw(st.integers(1, 2))
    limits = sorted(draw(st.lists(st.sampled_from(WEIGHT_LIMITS), min_size=n_limits, max_size=n_limits, unique=True)))
    prices = []
    for _ in range(2):
        row = [round(draw(st.floats(2.0, 12.0)), 2)]
        for _ in limits:
            row.append(round(row[-1] + draw(st.sampled_from([0.0, 0.5, 3.0, 15.0])), 2))
        prices.append(row)
    t: dict[str, Any] = {
        "currency": draw(st.sampled_from(currencies)),
        "zone_limits_km": [zone_limit],
        "weight_limits_kg": limits,
        "prices": prices,
    }
    if draw(st.integers(1, 3)) == 3:
        t["per_package"] = _money(draw, 0.1, 3.0)
        t["per_package_km"] = _money(draw, 0.0001, 0.002)
        t["per_unit"] = _money(draw, 0.1, 2.0)
        t["per_unit_km"] = round(draw(st.sampled_from([0.0, 0.0002, 0.001])), 4)
        t["per_kg"] = _money(draw, 0.1, 2.0)
        t["per_kg_km"] = round(draw(st.sampled_from([0.0, 0.0003, 0.001])), 4)
    return t


def _rare(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in `one_in` draws (False is the simple, shrunk-towards case)."""
    return draw(st.integers(1, one_in)) == one_in


@st.composite
def tiny_problems(draw: st.DrawFn, *, repeated_skus: bool = False, open_network: bool = False) -> Problem:
    """Random valid problems small enough for `brute_force`: <= 3 orders, nodes and SKUs, <= 2 lines of <= 2 units.

    Every feature of the contract shows up: FX, cross-border duties, restricted SKUs, channels and buffers,
    node capacities, backorders, pickups, unsplittable lines and per-order policy overrides. With
    `repeated_skus` two lines of one order may be the same SKU (valid input the engine's example generator
    never produces); otherwise each order's lines are distinct SKUs. With `open_network` every node ships
    everywhere, nothing is restricted, stock is sparse and unfilled units are dear: orders split often.
    """
    problem_currency = "USD"
    currencies = ["USD", *draw(st.lists(st.sampled_from(sorted(FX)), min_size=1, max_size=2, unique=True))]
    n_tariffs = draw(st.sampled_from([1, 2]))
    tariffs = {f"t{i}": draw(_tariff(currencies)) for i in range(n_tariffs)}
    countries_used = ["US", "CA", "GB"]

    n_nodes = 1 if _rare(draw, 6) else draw(st.integers(2, 3))
    nodes: list[dict[str, Any]] = []
    for i in range(n_nodes):
        country = draw(st.sampled_from(["US", "CA", "US", "GB"]))
        lat, lon = draw(_point(country))
        node: dict[str, Any] = {
            "id": f"N{i}",
            "country": country,
            "lat": lat,
            "lon": lon,
            "ships_to": ["US", "CA", "GB"]
            if open_network
            else draw(st.sampled_from([["US", "CA", "GB"], None, ["US", "CA"], ["GB", "US"], ["CA"]])),
            "currency": draw(st.sampled_from([None, *currencies])),
            "handling_per_package": _money(draw, 0.5, 3.0),
            "handling_per_unit": _money(draw, 0.1, 1.0),
            "tariff": f"t{draw(st.integers(0, n_tariffs - 1))}",
            "pickup": _rare(draw, 3),
        }
        if _rare(draw, 3):
            node["max_packages"] = draw(st.integers(0, 2))
        if _rare(draw, 3):
            node["max_units"] = draw(st.integers(0, 3))
        nodes.append(node)

    n_skus = 1 if _rare(draw, 6) else draw(st.integers(2, 3))
    skus = []
    for i in range(n_skus):
        sku: dict[str, Any] = {"id": f"K{i}", "weight_kg": draw(st.sampled_from(WEIGHTS))}
        if not open_network and _rare(draw, 6):
            sku["restricted_countries"] = draw(
                st.lists(st.sampled_from(countries_used), min_size=1, max_size=2, unique=True)
            )
        skus.append(sku)

    stock = []
    sparse = open_network or _rare(draw, 2)  # sparse stock: lines often sit at different nodes, so orders split
    for n in range(n_nodes):
        for k in range(n_skus):
            if _rare(draw, 2 if sparse else 8):
                continue
            level: dict[str, Any] = {
                "node": f"N{n}",
                "sku": f"K{k}",
                "on_hand": 0 if _rare(draw, 6) else draw(st.integers(1, 3)),
            }
            if _rare(draw, 5):
                level["reserved"] = draw(st.integers(1, 2))
            if _rare(draw, 8):
                level["safety_stock"] = 1
            if _rare(draw, 5):
                level["channel_buffers"] = {"marketplace": draw(st.integers(1, 2))}
            stock.append(level)

    inbound = [
        {
            "id": f"PO{i}",
            "node": f"N{draw(st.integers(0, n_nodes - 1))}",
            "sku": f"K{draw(st.integers(0, n_skus - 1))}",
            "quantity": draw(st.integers(1, 3)),
            "eta": AS_OF + dt.timedelta(days=draw(st.integers(-2, 8))),
        }
        for i in range(draw(st.sampled_from([1, 0, 2])))
    ]

    channels = []
    if not open_network and _rare(draw, 2):
        members = draw(st.lists(st.integers(0, n_nodes - 1), min_size=1, max_size=n_nodes, unique=True))
        channels.append({"id": "marketplace", "nodes": [f"N{m}" for m in sorted(members)]})

    pickup_nodes = [nd["id"] for nd in nodes if nd["pickup"]]
    served = sorted({c for nd in nodes for c in (nd["ships_to"] or [nd["country"]])})
    orders = []
    for i in range(1 if _rare(draw, 6) else draw(st.integers(2, 3))):
        # Mostly a country some node serves, so that most problems have something to decide.
        country = draw(st.sampled_from(served)) if not _rare(draw, 5) else draw(st.sampled_from(countries_used))
        lat, lon = draw(_point(country))
        n_lines = draw(st.integers(1, 2 if repeated_skus else min(2, n_skus)))
        line_skus = draw(
            st.lists(st.integers(0, n_skus - 1), min_size=n_lines, max_size=n_lines, unique=not repeated_skus)
        )
        lines = []
        for j, k in enumerate(line_skus):
            line: dict[str, Any] = {
                "id": f"L{j}",
                "sku": f"K{k}",
                "quantity": draw(st.integers(1, 2)),
                "unit_price": round(draw(st.floats(5.0, 100.0)), 2),
            }
            if line["quantity"] > 1 and _rare(draw, 3):
                line["splittable"] = False
            lines.append(line)
        order: dict[str, Any] = {
            "id": f"O{i}",
            "channel": draw(st.sampled_from(["web", "marketplace", "web"])),
            "currency": draw(st.sampled_from(currencies)),
            "destination": {"country": country, "lat": lat, "lon": lon},
            "lines": lines,
        }
        if pickup_nodes and _rare(draw, 4):
            order["pickup_node"] = draw(st.sampled_from(pickup_nodes))
        if _rare(draw, 5):
            order["ship_complete"] = draw(st.booleans())
        if _rare(draw, 5):
            order["max_packages"] = draw(st.integers(1, 2))
        orders.append(order)

    policy = {
        "split_cost": draw(st.sampled_from([1.0, 0.0, 4.0, 10.0])),
        "max_packages_per_order": draw(st.sampled_from([None, 2, 3] if open_network else [None, 2, 3, 1])),
        "ship_complete": _rare(draw, 6),
        "allow_partial": not _rare(draw, 5),
        "backorders": not _rare(draw, 4),
        "backorder_cost_per_unit_day": draw(st.sampled_from([0.5, 0.0, 0.1, 2.0])),
        "max_backorder_days": draw(st.sampled_from([None, 1, 3, 5])),
        "unfilled_penalty_per_unit": 100.0 if open_network else draw(st.sampled_from([100.0, 40.0, 5.0, 20.0])),
    }

    countries = {}
    for code in draw(st.lists(st.sampled_from(countries_used), min_size=1, max_size=3, unique=True)):
        countries[code] = {
            "currency": draw(st.sampled_from(currencies)),
            "de_minimis": draw(st.sampled_from([20.0, 0.0, 60.0, 120.0])),
            "duty_rate": draw(st.sampled_from([0.05, 0.2])),
            "clearance_fee": draw(st.sampled_from([3.0, 0.0, 10.0])),
        }

    return Problem.model_validate(
        {
            "as_of": AS_OF,
            "currency": problem_currency,
            "fx": {c: FX[c] for c in currencies if c != problem_currency},
            "nodes": nodes,
            "skus": skus,
            "stock": stock,
            "inbound": inbound,
            "orders": orders,
            "channels": channels,
            "policy": policy,
            "tariffs": tariffs,
            "countries": countries,
        }
    )
