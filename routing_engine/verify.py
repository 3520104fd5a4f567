"""Independent check of an allocation result: feasibility, cost, and the certified lower bound.

It maps the result's packages back onto the problem's candidates, checks every hard constraint, prices
the decision from scratch and, given a certificate, recomputes the bound by re-solving every order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from routing_engine.compile import Compiled, compile_problem
from routing_engine.model import AllocationResult, Problem
from solvers.certificate import lagrangian_bound
from solvers.problem import Prices
from solvers.solution import Violation, evaluate, violations

#: Relative tolerance when comparing money amounts.
TOLERANCE = 1e-6


@dataclass
class VerifyReport:
    """What `verify` found; `ok` when the allocation is feasible, costs what it says and the bound holds."""

    problems: list[str] = field(default_factory=list)
    cost: float = float("nan")
    reported_cost: float = float("nan")
    bound: float | None = None
    reported_bound: float | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        return max(0.0, self.cost - self.bound) / max(abs(self.cost), 1e-9)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def decision_of(c: Compiled, result: AllocationResult, problems: list[str]) -> np.ndarray:
    """Units per candidate arc described by the result's packages (unknown candidates are reported)."""
    cp, p = c.cp, c.problem
    order_ix = {o.id: i for i, o in enumerate(p.orders)}
    node_ix = {n.id: i for i, n in enumerate(p.nodes)}
    line_ix = {(c.line_ref[i][0], p.orders[c.line_ref[i][0]].lines[c.line_ref[i][1]].id): i for i in range(cp.n_lines)}
    pkg_ix = {
        (int(o), int(n), int(w)): i
        for i, (o, n, w) in enumerate(zip(cp.pkg_order, cp.pkg_node, cp.pkg_wait_days, strict=True))
    }
    arc_ix = {(int(pk), int(li)): a for a, (pk, li) in enumerate(zip(cp.arc_pkg, cp.arc_line, strict=True))}
    x = np.zeros(cp.n_arcs, dtype=np.int64)
    for pkg in result.packages:
        o, n = order_ix.get(pkg.order, -1), node_ix.get(pkg.node, -1)
        p_i = pkg_ix.get((o, n, pkg.wait_days))
        if p_i is None:
            problems.append(f"package {pkg.order}<-{pkg.node} (wait {pkg.wait_days} d) is not a candidate")
            continue
        for line in pkg.lines:
            arc = arc_ix.get((p_i, line_ix.get((o, line.line), -1)))
            if arc is None:
                problems.append(f"line {pkg.order}/{line.line} cannot ship from {pkg.node}")
            else:
                x[arc] += line.quantity
    return x


def described(c: Compiled, v: Violation) -> str:
    """A violation with the problem's ids in place of array indices: orders, order/line, nodes, supply rows."""
    cp, p = c.cp, c.problem

    def line_name(line: int) -> str:
        o, li = c.line_ref[line]
        return f"{p.orders[o].id}/{p.orders[o].lines[li].id}"

    names = {
        "order": lambda i: p.orders[i].id,
        "line": line_name,
        "node": lambda i: p.nodes[i].id,
        "supply row": lambda i: "/".join(str(k) for k in c.row_keys()[i] if k is not None),
        "arc": lambda i: f"{line_name(int(cp.arc_line[i]))}<-{p.nodes[int(cp.pkg_node[cp.arc_pkg[i]])].id}",
    }
    name = names.get(v.entity)
    if name is None or not v.indices:
        return str(v)
    return f"{v.entity}s {', '.join(name(i) for i in v.indices)} {v.breaks}"


def prices_of(c: Compiled, result: AllocationResult, problems: list[str]) -> Prices | None:
    """The certificate's prices on the problem's rows and nodes (unknown names are reported)."""
    cert = result.solver.certificate
    if cert is None:
        return None
    cp = c.cp
    row_ix = {key: r for r, key in enumerate(c.row_keys())}
    node_ix = {n.id: i for i, n in enumerate(c.problem.nodes)}
    row = np.zeros(cp.n_rows)
    pk, units = np.zeros(cp.n_nodes), np.zeros(cp.n_nodes)
    for rp in cert.row_prices:
        r = row_ix.get((rp.node, rp.sku, rp.channel, rp.from_wait_days))
        if r is None:
            problems.append(
                f"certificate prices an unknown supply row {rp.node}/{rp.sku}/{rp.channel}/{rp.from_wait_days}"
            )
        else:
            row[r] = rp.price
    for np_ in cert.node_prices:
        if np_.node not in node_ix:
            problems.append(f"certificate prices an unknown node {np_.node}")
        else:
            pk[node_ix[np_.node]], units[node_ix[np_.node]] = np_.per_package, np_.per_unit
    return Prices(row=row, node_packages=pk, node_units=units)


def verify(problem: Problem, result: AllocationResult) -> VerifyReport:
    """Check `result` against `problem` without trusting the solver that produced it."""
    report = VerifyReport(reported_cost=result.cost.total, reported_bound=result.solver.bound)
    c = compile_problem(problem)
    cp = c.cp
    x = decision_of(c, result, report.problems)
    report.problems.extend(described(c, v) for v in violations(cp, x))
    ev = evaluate(cp, x)
    report.cost = ev.total
    if not _close(ev.total, result.cost.total):
        report.problems.append(f"cost is {ev.total:.6f}, the result says {result.cost.total:.6f}")
    parts = result.cost
    if not _close(
        parts.shipping + parts.handling + parts.split + parts.backorder + parts.duties + parts.unfilled, parts.total
    ):
        report.problems.append("the cost parts do not add up to the total")
    reported_unfilled = {(u.order, u.line): u.quantity for u in result.unfilled}
    for line in np.flatnonzero(ev.line_unfilled > 0).tolist():
        o, li = c.line_ref[line]
        key = (problem.orders[o].id, problem.orders[o].lines[li].id)
        if reported_unfilled.pop(key, 0) != ev.line_unfilled[line]:
            report.problems.append(f"unfilled quantity of line {key[0]}/{key[1]} is misreported")
    for key in reported_unfilled:
        report.problems.append(f"line {key[0]}/{key[1]} is reported unfilled but ships in full")
    prices = prices_of(c, result, report.problems)
    if prices is not None:
        report.bound = lagrangian_bound(cp, prices)
        claimed = result.solver.certificate.bound if result.solver.certificate else None
        if (
            report.bound is not None
            and claimed is not None
            and claimed > report.bound + TOLERANCE * max(1.0, abs(report.bound))
        ):
            report.problems.append(f"the certificate claims a bound of {claimed:.6f}, it proves {report.bound:.6f}")
        if (
            report.bound is not None
            and result.solver.bound is not None
            and result.solver.bound > report.bound + TOLERANCE * max(1.0, abs(report.bound))
        ):
            report.problems.append(
                f"the reported bound {result.solver.bound:.6f} exceeds the certified {report.bound:.6f}"
            )
    return report
