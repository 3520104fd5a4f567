"""The `fx_shock` change: move an exchange rate."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from routing_engine.errors import MissingFxRate
from routing_engine.model import CurrencyCode, Problem
from routing_engine.scenarios.changes.base import ChangeBase


class FxShock(ChangeBase):
    """Multiply the value of a currency (in the reporting currency) by `factor`: 0.9 = it loses 10 %."""

    kind: Literal["fx_shock"] = "fx_shock"
    summary: ClassVar[str] = "move an exchange rate"
    currency: CurrencyCode
    factor: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        if self.currency not in problem.fx:
            raise MissingFxRate(self.currency, f"{where}.currency")
        return problem.model_copy(update={"fx": {**problem.fx, self.currency: problem.fx[self.currency] * self.factor}})
