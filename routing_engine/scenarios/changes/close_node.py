"""The `close_node` change: close a node for good or for some days."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from routing_engine.model import Id, Inbound, Problem
from routing_engine.scenarios.changes.base import ChangeBase, require_node


class CloseNode(ChangeBase):
    """Close a node. For good (`days` unset): its stock and inbound are removed and it leaves every channel;
    pickup orders at it go unfilled. For `days`: its available stock comes back as inbound supply on
    as_of + days and inbound due before then is delayed to that day, so orders may wait for it."""

    kind: Literal["close_node"] = "close_node"
    summary: ClassVar[str] = "close a node (for good, or for `days`)"
    node: Id
    days: Annotated[int, Field(ge=1, le=3650)] | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        require_node(problem, self.node, f"{where}.node")
        stock = [s for s in problem.stock if s.node != self.node]
        inbound = [i for i in problem.inbound if i.node != self.node]
        update: dict[str, Any] = {"stock": stock, "inbound": inbound}
        if self.days is None:
            update["channels"] = [
                c.model_copy(update={"nodes": [n for n in c.nodes if n != self.node]}) for c in problem.channels
            ]
        else:
            reopen = problem.as_of + dt.timedelta(days=self.days)
            reopened = [
                Inbound(id=f"reopen-{self.node}-{s.sku}", node=self.node, sku=s.sku, quantity=s.available, eta=reopen)
                for s in problem.stock
                if s.node == self.node and s.available > 0
            ]
            delayed = [i.model_copy(update={"eta": max(i.eta, reopen)}) for i in problem.inbound if i.node == self.node]
            update["inbound"] = [*inbound, *delayed, *reopened]
        return problem.model_copy(update=update)
