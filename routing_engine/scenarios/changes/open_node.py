"""The `open_node` change: open a new node with its stock."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from routing_engine.errors import InvalidValue, UnknownReference
from routing_engine.model import Id, Node, Problem, StockLevel, Units
from routing_engine.scenarios.changes.base import ChangeBase, require_sku


class OpenNode(ChangeBase):
    """Open a new node with its stock (units on hand per SKU), optionally serving some channels too."""

    kind: Literal["open_node"] = "open_node"
    summary: ClassVar[str] = "open a new node with stock"
    node: Node
    stock: dict[Id, Units] = Field(default_factory=dict)
    channels: list[Id] = Field(default_factory=list, description="Channels whose node list it joins.")

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        if any(n.id == self.node.id for n in problem.nodes):
            raise InvalidValue(f"node {self.node.id!r} already exists", field=f"{where}.node.id")
        if self.node.tariff not in problem.tariffs:
            raise UnknownReference("tariff", self.node.tariff, f"{where}.node.tariff")
        for sku in self.stock:
            require_sku(problem, sku, f"{where}.stock[{sku}]")
        known_channels = {c.id for c in problem.channels}
        for channel in self.channels:
            if channel not in known_channels:
                raise UnknownReference("channel", channel, f"{where}.channels")
        levels = [StockLevel(node=self.node.id, sku=sku, on_hand=q) for sku, q in self.stock.items() if q > 0]
        channels = [
            c.model_copy(update={"nodes": [*c.nodes, self.node.id]}) if c.id in self.channels else c
            for c in problem.channels
        ]
        return problem.model_copy(
            update={"nodes": [*problem.nodes, self.node], "stock": [*problem.stock, *levels], "channels": channels}
        )
