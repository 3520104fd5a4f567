"""The `demand_surge` change: more demand by destination US state or region, box, country or channel."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from routing_engine import geo
from routing_engine.model import CountryCode, Id, Line, Order, Problem
from routing_engine.scenarios.changes.base import ChangeBase
from routing_engine.scenarios.regions import REGION_STATES, US_STATES, us_state


class DemandSurge(ChangeBase):
    """More demand from the orders that match every filter given: destination US states or a named region of
    states, a lat/lon box, countries, channels. `mode: quantity` multiplies line quantities (rounded up);
    `mode: replicate` adds copies of the orders (ids suffixed `~2`, `~3`, ...), `factor` 2.5 meaning every
    order twice more and half of them thrice."""

    kind: Literal["demand_surge"] = "demand_surge"
    summary: ClassVar[str] = "multiply or replicate orders by US state/region, country or channel"
    factor: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)]
    mode: Literal["quantity", "replicate"] = "replicate"
    states: list[str] | None = Field(default=None, description="Destination US states (USPS codes: NY, CA, ...).")
    region: str | None = Field(default=None, description=f"Destination states of one of {', '.join(REGION_STATES)}.")
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="lat_min, lat_max, lon_min, lon_max"
    )
    countries: list[CountryCode] | None = None
    channels: list[Id] | None = None

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region not in REGION_STATES:
            raise ValueError(f"unknown region {region!r}; known: {', '.join(REGION_STATES)}")
        return region

    @field_validator("states")
    @classmethod
    def _known_states(cls, states: list[str] | None) -> list[str] | None:
        unknown = sorted(set(states or ()) - US_STATES)
        if unknown:
            raise ValueError(f"unknown US state {unknown[0]!r} (USPS codes of the 50 states and DC)")
        return states

    def _states(self) -> frozenset[str] | None:
        """Destination states that match, or None when neither `states` nor `region` filters."""
        if self.states is None and self.region is None:
            return None
        wanted = frozenset(self.states) if self.states is not None else US_STATES
        return wanted & REGION_STATES[self.region] if self.region is not None else wanted

    def _matches(self, order: Order, states: frozenset[str] | None, where: str) -> bool:
        if self.countries is not None and order.destination.country not in self.countries:
            return False
        if self.channels is not None and order.channel not in self.channels:
            return False
        at = f"{where}: orders[{order.id}].destination"
        if states is not None and us_state(order.destination, at) not in states:
            return False
        if self.box is None:
            return True
        lat, lon = geo.resolve(order.destination, at)
        return self.box[0] <= lat <= self.box[1] and self.box[2] <= lon <= self.box[3]

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        states = self._states()
        matched = [i for i, o in enumerate(problem.orders) if self._matches(o, states, where)]
        orders = list(problem.orders)
        if self.mode == "quantity":
            for i in matched:
                o = orders[i]
                lines = [
                    ln.model_copy(update={"quantity": math.ceil(ln.quantity * self.factor - 1e-9)}) for ln in o.lines
                ]
                orders[i] = o.model_copy(update={"lines": lines})
            return problem.model_copy(update={"orders": orders})
        whole = math.floor(self.factor + 1e-9)
        extra = round((self.factor - whole) * len(matched))  # the first `extra` matches get one more copy
        copies: list[Order] = []
        for rank, i in enumerate(matched):
            o = orders[i]
            for k in range(2, whole + 1 + (1 if rank < extra else 0)):
                copies.append(_copy_order(o, k))
        return problem.model_copy(update={"orders": [*orders, *copies]})


def _copy_order(order: Order, k: int) -> Order:
    lines = [Line.model_validate(ln.model_dump() | {"id": f"{ln.id}~{k}"}) for ln in order.lines]
    return order.model_copy(update={"id": f"{order.id}~{k}", "lines": lines})
