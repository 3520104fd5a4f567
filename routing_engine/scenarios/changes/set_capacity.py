"""The `set_capacity` change: set nodes' batch capacity, optionally letting them serve more channels."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from routing_engine.errors import UnknownReference
from routing_engine.model import Id, Problem, Units
from routing_engine.scenarios.changes.base import ChangeBase, NodeKind, select_nodes


class SetCapacity(ChangeBase):
    """Set the batch capacity (packages and/or units; null = unlimited) of a node or every node of a kind.
    Optionally let the nodes ship to more countries (e.g. stores start shipping to customers)."""

    kind: Literal["set_capacity"] = "set_capacity"
    summary: ClassVar[str] = "set package/unit capacity"
    node: Id | None = None
    node_kind: NodeKind | None = None
    max_packages: Units | None = None
    max_units: Units | None = None
    channels: list[Id] = Field(default_factory=list, description="Channels whose node list the nodes join.")

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        nodes = select_nodes(problem, self.node, self.node_kind, where)
        fields: dict[str, Any] = {
            f: getattr(self, f) for f in ("max_packages", "max_units") if f in self.model_fields_set
        }
        known_channels = {c.id for c in problem.channels}
        for channel in self.channels:
            if channel not in known_channels:
                raise UnknownReference("channel", channel, f"{where}.channels")
        channels = [
            c.model_copy(update={"nodes": [*c.nodes, *sorted(nodes - set(c.nodes))]}) if c.id in self.channels else c
            for c in problem.channels
        ]
        new_nodes = [n.model_copy(update=fields) if n.id in nodes else n for n in problem.nodes]
        return problem.model_copy(update={"nodes": new_nodes, "channels": channels})
