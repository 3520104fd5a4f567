"""Checks that a problem's references and currencies resolve, before anything is priced.

Each failure raises a data-carrying `ProblemError` naming the field or ID at fault.
"""

from __future__ import annotations

from collections.abc import Iterable

from routing_engine.errors import DuplicateId, InvalidValue, MissingFxRate, UnknownNode, UnknownReference, UnknownSku
from routing_engine.model import Problem


def _unique(kind: str, ids: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    for id_ in ids:
        if id_ in seen:
            raise DuplicateId(kind, id_)
        seen.add(id_)
    return seen


def check_problem(problem: Problem) -> None:
    """Raise the first `ProblemError` found: duplicate or unknown ids, currencies missing from fx."""
    nodes = _unique("node", (n.id for n in problem.nodes))
    skus = _unique("sku", (s.id for s in problem.skus))
    _unique("order", (o.id for o in problem.orders))
    _unique("inbound", (i.id for i in problem.inbound))
    _unique("channel", (c.id for c in problem.channels))
    _unique("stock", (f"{s.node}/{s.sku}" for s in problem.stock))

    def currency(code: str, where: str) -> None:
        if code != problem.currency and code not in problem.fx:
            raise MissingFxRate(code, where)

    pickup_nodes = {n.id for n in problem.nodes if n.pickup}
    for n in problem.nodes:
        if n.tariff not in problem.tariffs:
            raise UnknownReference("tariff", n.tariff, f"nodes[{n.id}].tariff")
        if n.currency is not None:
            currency(n.currency, f"nodes[{n.id}].currency")
    for name, t in problem.tariffs.items():
        currency(t.currency, f"tariffs[{name}].currency")
    for code, rule in problem.countries.items():
        currency(rule.currency, f"countries[{code}].currency")
    for s in problem.stock:
        if s.node not in nodes:
            raise UnknownNode(s.node, f"stock[{s.node}/{s.sku}].node")
        if s.sku not in skus:
            raise UnknownSku(s.sku, f"stock[{s.node}/{s.sku}].sku")
    for i in problem.inbound:
        if i.node not in nodes:
            raise UnknownNode(i.node, f"inbound[{i.id}].node")
        if i.sku not in skus:
            raise UnknownSku(i.sku, f"inbound[{i.id}].sku")
    for c in problem.channels:
        for node in c.nodes:
            if node not in nodes:
                raise UnknownNode(node, f"channels[{c.id}].nodes")
    for o in problem.orders:
        currency(o.currency, f"orders[{o.id}].currency")
        _unique(f"orders[{o.id}].line", (line.id for line in o.lines))
        for line in o.lines:
            if line.sku not in skus:
                raise UnknownSku(line.sku, f"orders[{o.id}].lines[{line.id}].sku")
        if o.pickup_node is not None:
            if o.pickup_node not in nodes:
                raise UnknownNode(o.pickup_node, f"orders[{o.id}].pickup_node")
            if o.pickup_node not in pickup_nodes:
                raise InvalidValue(
                    f"node {o.pickup_node!r} does not accept pickups", field=f"orders[{o.id}].pickup_node"
                )
