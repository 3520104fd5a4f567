"""The `rate_card` change: scale a carrier tariff's prices, in every zone or some."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from routing_engine.errors import InvalidValue, UnknownReference
from routing_engine.model import Id, Problem
from routing_engine.scenarios.changes.base import ChangeBase, Factor


class RateCard(ChangeBase):
    """Scale a tariff's zone x weight prices by `factor`, in every zone or only the listed (1-based) zones;
    with `linear: true` its per-package/unit/kg/km terms too."""

    kind: Literal["rate_card"] = "rate_card"
    summary: ClassVar[str] = "scale a carrier rate card (optionally some zones)"
    tariff: Id
    factor: Factor
    zones: list[Annotated[int, Field(ge=1)]] | None = None
    linear: bool = False

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        if self.tariff not in problem.tariffs:
            raise UnknownReference("tariff", self.tariff, f"{where}.tariff")
        card = problem.tariffs[self.tariff]
        n_zones = len(card.prices)
        for zone in self.zones or []:
            if zone > n_zones:
                raise InvalidValue(
                    f"zone {zone} is beyond the {n_zones} zones of {self.tariff!r}", field=f"{where}.zones"
                )
        zones = set(self.zones) if self.zones is not None else set(range(1, n_zones + 1))
        prices = [
            [round(p * self.factor, 4) for p in row] if z + 1 in zones else list(row)
            for z, row in enumerate(card.prices)
        ]
        update: dict[str, Any] = {"prices": prices}
        if self.linear:
            for term in ("per_package", "per_package_km", "per_unit", "per_unit_km", "per_kg", "per_kg_km"):
                update[term] = getattr(card, term) * self.factor
        # model_validate, not model_copy: scaling some zones must still leave prices rising with weight.
        new_card = type(card).model_validate(card.model_dump() | update)
        return problem.model_copy(update={"tariffs": {**problem.tariffs, self.tariff: new_card}})
