"""The `handling` change: scale or set handling costs."""

from __future__ import annotations

from typing import ClassVar, Literal

from routing_engine.model import Id, Node, Problem
from routing_engine.scenarios.changes.base import ChangeBase, Factor, NodeKind, select_nodes


class Handling(ChangeBase):
    """Change handling costs of a node, of every node of a kind, or of all: scale them and/or set them."""

    kind: Literal["handling"] = "handling"
    summary: ClassVar[str] = "scale or set handling costs"
    node: Id | None = None
    node_kind: NodeKind | None = None
    factor: Factor = 1.0
    per_package: Factor | None = None
    per_unit: Factor | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        nodes = select_nodes(problem, self.node, self.node_kind, where)

        def changed(n: Node) -> Node:
            if n.id not in nodes:
                return n
            per_package = self.per_package if self.per_package is not None else n.handling_per_package
            per_unit = self.per_unit if self.per_unit is not None else n.handling_per_unit
            return n.model_copy(
                update={"handling_per_package": per_package * self.factor, "handling_per_unit": per_unit * self.factor}
            )

        return problem.model_copy(update={"nodes": [changed(n) for n in problem.nodes]})
