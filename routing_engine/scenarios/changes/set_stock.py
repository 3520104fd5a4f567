"""The `set_stock` change: set the available stock of a SKU (or of every SKU) at a node."""

from __future__ import annotations

from typing import ClassVar, Literal

from routing_engine.model import Id, Problem, StockLevel, Units
from routing_engine.scenarios.changes.base import ChangeBase, require_node, require_sku


class SetStock(ChangeBase):
    """Set the available stock (on hand - reserved - safety) of one SKU, or of every SKU the node stocks, at a
    node to `available` units; reserved and safety stock stay. A SKU the node did not stock yet is added."""

    kind: Literal["set_stock"] = "set_stock"
    summary: ClassVar[str] = "set available stock of a SKU (or all SKUs) at a node"
    node: Id
    sku: Id | None = None
    available: Units

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        require_node(problem, self.node, f"{where}.node")
        if self.sku is not None:
            require_sku(problem, self.sku, f"{where}.sku")

        def set_(s: StockLevel) -> StockLevel:
            if s.node != self.node or (self.sku is not None and s.sku != self.sku):
                return s
            return s.model_copy(update={"on_hand": s.reserved + s.safety_stock + self.available})

        stock = [set_(s) for s in problem.stock]
        stocked = any(s.node == self.node and s.sku == self.sku for s in problem.stock)
        if self.sku is not None and not stocked and self.available > 0:
            stock.append(StockLevel(node=self.node, sku=self.sku, on_hand=self.available))
        return problem.model_copy(update={"stock": stock})
