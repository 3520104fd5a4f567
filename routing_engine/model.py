"""Problem and result data model: what the engine is given and what it returns.

Every type is a frozen pydantic model that forbids unknown fields, so a typo is an error, not a default.
Money is in the currency named beside it and converted with the problem's own FX table.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SCHEMA_VERSION = "1"

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Units = Annotated[int, Field(ge=0, le=1_000_000_000)]
PositiveUnits = Annotated[int, Field(ge=1, le=1_000_000_000)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]

#: USPS distance-zone limits (zones 1..8), in miles; zone 9 is beyond the last limit.
USPS_ZONE_LIMITS_MILES = (50.0, 150.0, 300.0, 600.0, 1000.0, 1400.0, 1800.0)
KM_PER_MILE = 1.609344


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ----------------------------------------------------------------------------------------- problem


class Destination(Frozen):
    """Where an order goes: coordinates, or a postal code or city resolved offline in `country`."""

    country: CountryCode
    lat: Latitude | None = None
    lon: Longitude | None = None
    postal_code: str | None = None
    city: str | None = None

    @model_validator(mode="after")
    def _one_way_to_locate(self) -> Destination:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        if self.lat is None and not self.postal_code and not self.city:
            raise ValueError("give lat/lon, postal_code or city")
        return self


class Node(Frozen):
    """A stock-holding location: warehouse, store or 3PL."""

    id: Id
    kind: Literal["warehouse", "store", "3pl"] = "warehouse"
    country: CountryCode
    lat: Latitude
    lon: Longitude
    ships_to: list[CountryCode] | None = Field(
        default=None, description="Destination countries served; None means its own country only."
    )
    currency: CurrencyCode | None = Field(
        default=None, description="Currency of the handling costs; None means the problem currency."
    )
    handling_per_package: Money = 0.0
    handling_per_unit: Money = 0.0
    max_packages: Units | None = Field(default=None, description="Packages it can ship in this batch.")
    max_units: Units | None = Field(default=None, description="Units it can ship in this batch.")
    pickup: bool = Field(default=False, description="Accepts pickup (BOPIS) orders.")
    tariff: Id = "default"

    def serves(self, country: str) -> bool:
        return country in self.ships_to if self.ships_to is not None else country == self.country


class Sku(Frozen):
    id: Id
    weight_kg: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    restricted_countries: list[CountryCode] = Field(
        default_factory=list, description="Destination countries it may never be shipped to."
    )


class StockLevel(Frozen):
    """Stock of one SKU at one node. Available = on hand - reserved - safety stock."""

    node: Id
    sku: Id
    on_hand: Units
    reserved: Units = 0
    safety_stock: Units = 0
    channel_buffers: dict[Id, Units] = Field(
        default_factory=dict, description="Units of the available stock withheld from a channel."
    )

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class Inbound(Frozen):
    """Supply on its way to a node (purchase order, transfer), promisable to orders."""

    id: Id
    node: Id
    sku: Id
    quantity: PositiveUnits
    eta: dt.date


class Line(Frozen):
    id: Id
    sku: Id
    quantity: PositiveUnits
    unit_price: Money = Field(description="Price per unit in the order currency (customs value).")
    splittable: bool = Field(default=True, description="False: all units ship in one package.")


class Order(Frozen):
    id: Id
    channel: Id = "web"
    currency: CurrencyCode
    destination: Destination
    lines: Annotated[list[Line], Field(min_length=1)]
    pickup_node: Id | None = Field(default=None, description="Pickup store: served from it only.")
    ship_complete: bool | None = Field(default=None, description="None follows the policy.")
    max_packages: PositiveUnits | None = Field(default=None, description="None follows the policy.")


class Channel(Frozen):
    """A sales channel whose orders may only be served from the listed nodes."""

    id: Id
    nodes: list[Id]


class Policy(Frozen):
    split_cost: Money = Field(default=0.0, description="Cost of each package beyond an order's first.")
    max_packages_per_order: PositiveUnits | None = None
    ship_complete: bool = Field(
        default=False, description="Everything from one node in one package, or the order waits/is unfilled."
    )
    allow_partial: bool = Field(default=True, description="False: an order is served in full or not at all.")
    backorders: bool = Field(default=True, description="False: what cannot ship now is unfilled (cancelled).")
    backorder_cost_per_unit_day: Money = 0.0
    max_backorder_days: Units | None = None
    unfilled_penalty_per_unit: Money = 100.0


class Tariff(Frozen):
    """A carrier price list: a zone x weight rate card plus plain linear terms, in `currency`.

    Zone z holds distances up to `zone_limits_km[z]`; the last zone is open-ended. Weight band b holds
    billable package weights up to `weight_limits_kg[b]`; the last band is open-ended. `prices[z][b]`
    is the price of one package; it must not decrease with weight.
    """

    currency: CurrencyCode
    zone_limits_km: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    weight_limits_kg: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    prices: list[list[Money]] = Field(default_factory=lambda: [[0.0]])
    per_package: Money = 0.0
    per_package_km: Money = 0.0
    per_unit: Money = 0.0
    per_unit_km: Money = 0.0
    per_kg: Money = 0.0
    per_kg_km: Money = 0.0

    @model_validator(mode="after")
    def _shape(self) -> Tariff:
        if sorted(self.zone_limits_km) != self.zone_limits_km or sorted(self.weight_limits_kg) != (
            self.weight_limits_kg
        ):
            raise ValueError("zone_limits_km and weight_limits_kg must be increasing")
        zones, bands = len(self.zone_limits_km) + 1, len(self.weight_limits_kg) + 1
        if len(self.prices) != zones or any(len(row) != bands for row in self.prices):
            raise ValueError(f"prices must be {zones} zones x {bands} weight bands")
        if any(row[i] > row[i + 1] for row in self.prices for i in range(bands - 1)):
            raise ValueError("prices must not decrease with weight")
        return self


class CountryRule(Frozen):
    """Import rules of a destination country: duty on consignments above the de minimis value."""

    currency: CurrencyCode
    de_minimis: Money = Field(description="Consignment value, in `currency`, up to which no duty is due.")
    duty_rate: Rate = Field(description="Duty and import taxes as a share of the consignment value.")
    clearance_fee: Money = Field(default=0.0, description="Per dutiable package, in `currency`.")


class Problem(Frozen):
    """Everything the engine needs to allocate a batch of open orders."""

    schema_version: Literal["1"] = "1"
    as_of: dt.date = Field(description="Today: backorder waits are counted from this date.")
    currency: CurrencyCode = Field(description="Reporting currency of every cost.")
    fx: dict[CurrencyCode, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Value of one unit of each currency in the reporting currency."
    )
    nodes: list[Node]
    skus: list[Sku]
    stock: list[StockLevel] = Field(default_factory=list)
    inbound: list[Inbound] = Field(default_factory=list)
    orders: list[Order]
    channels: list[Channel] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    tariffs: dict[Id, Tariff]
    countries: dict[CountryCode, CountryRule] = Field(default_factory=dict)

    def rate(self, currency: str) -> float:
        """Value of one unit of `currency` in the reporting currency (KeyError when unknown)."""
        return 1.0 if currency == self.currency else self.fx[currency]


# ------------------------------------------------------------------------------------------ result


class CostBreakdown(Frozen):
    """Cost by part, in the reporting currency; `total` is their sum."""

    shipping: float = 0.0
    handling: float = 0.0
    split: float = 0.0
    backorder: float = 0.0
    duties: float = 0.0
    unfilled: float = 0.0
    total: float = 0.0


class InboundUse(Frozen):
    inbound: Id
    quantity: PositiveUnits


class PackageLine(Frozen):
    line: Id
    sku: Id
    quantity: PositiveUnits
    from_stock: Units
    from_inbound: list[InboundUse] = Field(default_factory=list)


class Package(Frozen):
    """One package from one node to one order; it ships on `ship_date` (later than as_of: backorder)."""

    order: Id
    node: Id
    ship_date: dt.date
    wait_days: Units
    lines: list[PackageLine]
    weight_kg: float
    value: float = Field(description="Consignment value in the destination country's currency.")
    distance_km: float
    zone: int | None = Field(description="Rate-card zone (1-based); None for a pickup.")
    cross_border: bool
    dutiable: bool
    cost: CostBreakdown


UnfilledReason = Literal["restricted", "no_stock", "capacity", "policy", "uneconomic"]


class UnfilledLine(Frozen):
    order: Id
    line: Id
    sku: Id
    quantity: PositiveUnits
    reason: UnfilledReason


class Kpis(Frozen):
    orders: int
    units: int
    units_shipped_now: int
    units_backordered: int
    units_unfilled: int
    fill_rate: float = Field(description="Share of units shipped now or backordered.")
    fill_rate_now: float
    packages: int
    packages_per_order: float = Field(description="Packages per order that ships at least one unit.")
    split_orders: int
    mean_distance_km: float = Field(description="Mean distance per unit shipped (pickups count 0).")
    cross_border_packages: int
    duties: float


SolveStatus = Literal["optimal", "feasible", "heuristic"]


class RowPrice(Frozen):
    """Price per unit of one supply row: what `node` ships of `sku` from `from_wait_days` until the next
    inbound arrival (for `channel` only when a channel buffer limits it)."""

    node: Id
    sku: Id
    channel: Id | None
    from_wait_days: Units
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class NodePrice(Frozen):
    """Price per package and per unit of a node's capacity for what ships now."""

    node: Id
    per_package: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    per_unit: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Certificate(Frozen):
    """Lagrangian certificate of the lower bound: with these prices on stock and capacity, the sum over
    orders of each order's cheapest priced decision, minus the price of all supply and capacity, is at
    most the optimal cost. `routing-engine verify` recomputes it."""

    method: Literal["lagrangian"] = "lagrangian"
    bound: float
    row_prices: list[RowPrice]
    node_prices: list[NodePrice]


class SolverReport(Frozen):
    """How the allocation was found: objective, proven lower bound and relative gap between them."""

    solver: str
    status: SolveStatus
    objective: float
    bound: float | None
    gap: float | None
    runtime_s: float
    seed: int
    certificate: Certificate | None = None


class AllocationResult(Frozen):
    schema_version: Literal["1"] = "1"
    currency: CurrencyCode
    packages: list[Package]
    unfilled: list[UnfilledLine]
    cost: CostBreakdown
    kpis: Kpis
    solver: SolverReport
