"""What every what-if change shares: the base class, its field types and the look-ups that name what is missing."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from routing_engine.errors import UnknownNode, UnknownSku
from routing_engine.model import Frozen, Node, Problem

Factor = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NodeKind = Literal["warehouse", "store", "3pl"]

# ------------------------------------------------------------------------------------------ lookups


def require_node(problem: Problem, node: str, where: str) -> Node:
    """The node of `problem` whose id is `node`; `UnknownNode` at `where` when there is none."""
    for n in problem.nodes:
        if n.id == node:
            return n
    raise UnknownNode(node, where)


def require_sku(problem: Problem, sku: str, where: str) -> None:
    """Check that `problem` has the SKU `sku`; `UnknownSku` at `where` when it lacks it."""
    if not any(s.id == sku for s in problem.skus):
        raise UnknownSku(sku, where)


def select_nodes(problem: Problem, node: str | None, node_kind: NodeKind | None, where: str) -> set[str]:
    """Ids of the nodes a change applies to: one node, every node of a kind, or every node."""
    if node is not None:
        require_node(problem, node, f"{where}.node")
        return {node}
    return {n.id for n in problem.nodes if node_kind is None or n.kind == node_kind}


class ChangeBase(Frozen):
    """One what-if change. `where` in errors is the change's position in its scenario, set by the caller."""

    kind: str
    summary: ClassVar[str] = ""

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        raise NotImplementedError
