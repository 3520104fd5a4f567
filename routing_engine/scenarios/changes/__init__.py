"""What-if changes: each a small frozen model whose `apply(problem) -> problem` is pure (`model_copy`), one
module per change kind; this module is their registry.

`Change` is the discriminated union over `kind`; `parse_change` names an unknown kind, and every change
names a node, SKU, tariff, currency or country that the problem lacks (`UnknownNode`, `UnknownSku`, ...).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from routing_engine.errors import InvalidValue
from routing_engine.model import Problem
from routing_engine.scenarios.changes.add_inbound import AddInbound
from routing_engine.scenarios.changes.base import ChangeBase
from routing_engine.scenarios.changes.close_node import CloseNode
from routing_engine.scenarios.changes.demand_surge import DemandSurge
from routing_engine.scenarios.changes.duty import Duty
from routing_engine.scenarios.changes.fx_shock import FxShock
from routing_engine.scenarios.changes.handling import Handling
from routing_engine.scenarios.changes.open_node import OpenNode
from routing_engine.scenarios.changes.policy import PolicyChange
from routing_engine.scenarios.changes.rate_card import RateCard
from routing_engine.scenarios.changes.scale_stock import ScaleStock
from routing_engine.scenarios.changes.set_capacity import SetCapacity
from routing_engine.scenarios.changes.set_stock import SetStock
from routing_engine.scenarios.errors import UnknownChangeKind

# ------------------------------------------------------------------------------------------ registry

CHANGE_TYPES: tuple[type[ChangeBase], ...] = (
    # network changes
    CloseNode,
    OpenNode,
    ScaleStock,
    SetStock,
    SetCapacity,
    AddInbound,
    # cost changes
    RateCard,
    Handling,
    PolicyChange,
    FxShock,
    Duty,
    # demand changes
    DemandSurge,
)
#: kind -> change class: the registry every scenario file is checked against.
REGISTRY: dict[str, type[ChangeBase]] = {t.model_fields["kind"].default: t for t in CHANGE_TYPES}

Change = Annotated[
    CloseNode
    | OpenNode
    | ScaleStock
    | SetStock
    | SetCapacity
    | AddInbound
    | RateCard
    | Handling
    | PolicyChange
    | FxShock
    | Duty
    | DemandSurge,
    Field(discriminator="kind"),
]
_CHANGE: TypeAdapter[Change] = TypeAdapter(Change)


def parse_change(data: Any, where: str) -> Change:
    """A change from its YAML/JSON form; an unknown kind or a bad field is a `ProblemError` naming it."""
    if not isinstance(data, dict) or "kind" not in data:
        raise InvalidValue("a change is a mapping with a `kind`", field=where)
    kind = data["kind"]
    if kind not in REGISTRY:
        raise UnknownChangeKind(str(kind), f"{where}.kind", sorted(REGISTRY))
    try:
        return _CHANGE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"][1:])  # drop the union tag
        raise InvalidValue(first["msg"], field=f"{where}.{loc}" if loc else where) from None


def apply_changes(problem: Problem, changes: list[Change], where: str = "changes") -> Problem:
    """Apply `changes` in order; the input problem is never modified."""
    for i, change in enumerate(changes):
        problem = change.apply(problem, f"{where}[{i}]")
    return problem
