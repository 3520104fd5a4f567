"""The `scale_stock` change: scale available stock by node, node kind and/or SKU."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from routing_engine.model import Id, Problem, StockLevel
from routing_engine.scenarios.changes.base import ChangeBase, Factor, NodeKind, require_sku, select_nodes


class ScaleStock(ChangeBase):
    """Multiply available stock (on hand - reserved - safety, rounded down) at one node or every node of a
    kind, for one SKU or all; reserved and safety stock stay as they are."""

    kind: Literal["scale_stock"] = "scale_stock"
    summary: ClassVar[str] = "scale available stock by node and/or SKU"
    factor: Factor
    node: Id | None = None
    node_kind: NodeKind | None = None
    sku: Id | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        nodes = select_nodes(problem, self.node, self.node_kind, where)
        if self.sku is not None:
            require_sku(problem, self.sku, f"{where}.sku")

        def scaled(s: StockLevel) -> StockLevel:
            if s.node not in nodes or (self.sku is not None and s.sku != self.sku):
                return s
            available = math.floor(s.available * self.factor + 1e-9)
            return s.model_copy(update={"on_hand": s.on_hand - s.available + available})

        return problem.model_copy(update={"stock": [scaled(s) for s in problem.stock]})
