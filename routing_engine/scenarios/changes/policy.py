"""The `policy` change: change policy fields (split cost, max packages, backorders or cancel, ...)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from routing_engine.model import Policy, Problem, Units
from routing_engine.scenarios.changes.base import ChangeBase, Factor


class PolicyChange(ChangeBase):
    """Set policy fields: split cost, max packages per order, ship complete, partial fulfilment, backorders
    (false: what cannot ship now is cancelled), backorder cost, max backorder days, unfilled penalty."""

    kind: Literal["policy"] = "policy"
    summary: ClassVar[str] = "change the policy (split cost, max packages, backorders vs cancel, ...)"
    split_cost: Factor | None = None
    max_packages_per_order: Annotated[int, Field(ge=1)] | None = None
    ship_complete: bool | None = None
    allow_partial: bool | None = None
    backorders: bool | None = None
    backorder_cost_per_unit_day: Factor | None = None
    max_backorder_days: Units | None = None
    unfilled_penalty_per_unit: Factor | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        fields = self.model_fields_set - {"kind"}
        # Validated again, so a null where the policy needs a value is named, not stored.
        policy = Policy.model_validate(problem.policy.model_dump() | {f: getattr(self, f) for f in fields})
        return problem.model_copy(update={"policy": policy})
