"""The `duty` change: change a destination country's import rule (de minimis, duty rate, clearance fee)."""

from __future__ import annotations

from typing import ClassVar, Literal

from routing_engine.errors import UnknownReference
from routing_engine.model import CountryCode, CountryRule, CurrencyCode, Problem
from routing_engine.scenarios.changes.base import ChangeBase, Factor


class Duty(ChangeBase):
    """Change a destination country's import rule: de minimis, duty rate, clearance fee. A country without
    a rule gets one when `currency` is given."""

    kind: Literal["duty"] = "duty"
    summary: ClassVar[str] = "change de minimis / duty rate"
    country: CountryCode
    de_minimis: Factor | None = None
    duty_rate: Factor | None = None
    clearance_fee: Factor | None = None
    currency: CurrencyCode | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        rule = problem.countries.get(self.country)
        if rule is None:
            if self.currency is None:
                raise UnknownReference("country rule", self.country, f"{where}.country")
            rule = CountryRule(currency=self.currency, de_minimis=0.0, duty_rate=0.0)
        fields = {f: getattr(self, f) for f in ("de_minimis", "duty_rate", "clearance_fee", "currency")}
        rule = rule.model_copy(update={k: v for k, v in fields.items() if v is not None})
        return problem.model_copy(update={"countries": {**problem.countries, self.country: rule}})
