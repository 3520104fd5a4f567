"""The `add_inbound` change: add inbound supply (a PO or transfer)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from routing_engine.model import Id, Inbound, Problem
from routing_engine.scenarios.changes.base import ChangeBase, require_node, require_sku


class AddInbound(ChangeBase):
    """Add inbound supply (a PO or transfer) of a SKU at a node, arriving `days` after as_of."""

    kind: Literal["add_inbound"] = "add_inbound"
    summary: ClassVar[str] = "add inbound supply"
    node: Id
    sku: Id
    quantity: Annotated[int, Field(ge=1, le=1_000_000_000)]
    days: Annotated[int, Field(ge=0, le=3650)] = 7
    id: Id | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        require_node(problem, self.node, f"{where}.node")
        require_sku(problem, self.sku, f"{where}.sku")
        po_id = self.id or f"what-if-{self.node}-{self.sku}-{len(problem.inbound) + 1}"
        po = Inbound(
            id=po_id,
            node=self.node,
            sku=self.sku,
            quantity=self.quantity,
            eta=problem.as_of + dt.timedelta(days=self.days),
        )
        return problem.model_copy(update={"inbound": [*problem.inbound, po]})
