"""What-if changes: each a small frozen model whose `apply(problem) -> problem` is pure (`model_copy`).

`Change` is the discriminated union over `kind`; `parse_change` names an unknown kind, and every change
names a node, SKU, tariff, currency or country that the problem lacks (`UnknownNode`, `UnknownSku`, ...).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, TypeAdapter, ValidationError, field_validator

from routing_engine import geo
from routing_engine.errors import InvalidValue, MissingFxRate, UnknownNode, UnknownReference, UnknownSku
from routing_engine.model import (
    CountryCode,
    CountryRule,
    CurrencyCode,
    Frozen,
    Id,
    Inbound,
    Line,
    Node,
    Order,
    Policy,
    Problem,
    StockLevel,
    Units,
)
from routing_engine.scenarios.errors import UnknownChangeKind
from routing_engine.scenarios.regions import REGION_STATES, US_STATES, us_state

Factor = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NodeKind = Literal["warehouse", "store", "3pl"]

# ------------------------------------------------------------------------------------------ lookups


def _require_node(problem: Problem, node: str, where: str) -> Node:
    for n in problem.nodes:
        if n.id == node:
            return n
    raise UnknownNode(node, where)


def _require_sku(problem: Problem, sku: str, where: str) -> None:
    if not any(s.id == sku for s in problem.skus):
        raise UnknownSku(sku, where)


def _select_nodes(problem: Problem, node: str | None, node_kind: NodeKind | None, where: str) -> set[str]:
    """Ids of the nodes a change applies to: one node, every node of a kind, or every node."""
    if node is not None:
        _require_node(problem, node, f"{where}.node")
        return {node}
    return {n.id for n in problem.nodes if node_kind is None or n.kind == node_kind}


class ChangeBase(Frozen):
    """One what-if change. `where` in errors is the change's position in its scenario, set by the caller."""

    kind: str
    summary: ClassVar[str] = ""

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        raise NotImplementedError


# ----------------------------------------------------------------------------------- network changes


class CloseNode(ChangeBase):
    """Close a node. For good (`days` unset): its stock and inbound are removed and it leaves every channel;
    pickup orders at it go unfilled. For `days`: its available stock comes back as inbound supply on
    as_of + days and inbound due before then is delayed to that day, so orders may wait for it."""

    kind: Literal["close_node"] = "close_node"
    summary: ClassVar[str] = "close a node (for good, or for `days`)"
    node: Id
    days: Annotated[int, Field(ge=1, le=3650)] | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        _require_node(problem, self.node, f"{where}.node")
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


class OpenNode(ChangeBase):
    """Open a new node with its stock (units on hand per SKU), optionally serving some channels too."""

    kind: Literal["open_node"] = "open_node"
    summary: ClassVar[str] = "open a new node with stock"
    node: Node
    stock: dict[Id, Units] = Field(default_factory=dict)
    channels: list[Id] = Field(default_factory=list, description="Channels whose node list it joins.")

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        if any(n.id == self.node.id for n in problem.nodes):
            raise InvalidValue(f"node {self.node.id!r} already exists", field=f"{where}.node.id")
        if self.node.tariff not in problem.tariffs:
            raise UnknownReference("tariff", self.node.tariff, f"{where}.node.tariff")
        for sku in self.stock:
            _require_sku(problem, sku, f"{where}.stock[{sku}]")
        known_channels = {c.id for c in problem.channels}
        for channel in self.channels:
            if channel not in known_channels:
                raise UnknownReference("channel", channel, f"{where}.channels")
        levels = [StockLevel(node=self.node.id, sku=sku, on_hand=q) for sku, q in self.stock.items() if q > 0]
        channels = [
            c.model_copy(update={"nodes": [*c.nodes, self.node.id]}) if c.id in self.channels else c
            for c in problem.channels
        ]
        return problem.model_copy(
            update={"nodes": [*problem.nodes, self.node], "stock": [*problem.stock, *levels], "channels": channels}
        )


class ScaleStock(ChangeBase):
    """Multiply available stock (on hand - reserved - safety, rounded down) at one node or every node of a
    kind, for one SKU or all; reserved and safety stock stay as they are."""

    kind: Literal["scale_stock"] = "scale_stock"
    summary: ClassVar[str] = "scale available stock by node and/or SKU"
    factor: Factor
    node: Id | None = None
    node_kind: NodeKind | None = None
    sku: Id | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        nodes = _select_nodes(problem, self.node, self.node_kind, where)
        if self.sku is not None:
            _require_sku(problem, self.sku, f"{where}.sku")

        def scaled(s: StockLevel) -> StockLevel:
            if s.node not in nodes or (self.sku is not None and s.sku != self.sku):
                return s
            available = math.floor(s.available * self.factor + 1e-9)
            return s.model_copy(update={"on_hand": s.on_hand - s.available + available})

        return problem.model_copy(update={"stock": [scaled(s) for s in problem.stock]})


class SetStock(ChangeBase):
    """Set the available stock (on hand - reserved - safety) of one SKU, or of every SKU the node stocks, at a
    node to `available` units; reserved and safety stock stay. A SKU the node did not stock yet is added."""

    kind: Literal["set_stock"] = "set_stock"
    summary: ClassVar[str] = "set available stock of a SKU (or all SKUs) at a node"
    node: Id
    sku: Id | None = None
    available: Units

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        _require_node(problem, self.node, f"{where}.node")
        if self.sku is not None:
            _require_sku(problem, self.sku, f"{where}.sku")

        def set_(s: StockLevel) -> StockLevel:
            if s.node != self.node or (self.sku is not None and s.sku != self.sku):
                return s
            return s.model_copy(update={"on_hand": s.reserved + s.safety_stock + self.available})

        stock = [set_(s) for s in problem.stock]
        stocked = any(s.node == self.node and s.sku == self.sku for s in problem.stock)
        if self.sku is not None and not stocked and self.available > 0:
            stock.append(StockLevel(node=self.node, sku=self.sku, on_hand=self.available))
        return problem.model_copy(update={"stock": stock})


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
        nodes = _select_nodes(problem, self.node, self.node_kind, where)
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
        _require_node(problem, self.node, f"{where}.node")
        _require_sku(problem, self.sku, f"{where}.sku")
        po_id = self.id or f"what-if-{self.node}-{self.sku}-{len(problem.inbound) + 1}"
        po = Inbound(
            id=po_id,
            node=self.node,
            sku=self.sku,
            quantity=self.quantity,
            eta=problem.as_of + dt.timedelta(days=self.days),
        )
        return problem.model_copy(update={"inbound": [*problem.inbound, po]})


# -------------------------------------------------------------------------------------- cost changes


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


class Handling(ChangeBase):
    """Change handling costs of a node, of every node of a kind, or of all: scale them and/or set them."""

    kind: Literal["handling"] = "handling"
    summary: ClassVar[str] = "scale or set handling costs"
    node: Id | None = None
    node_kind: NodeKind | None = None
    factor: Factor = 1.0
    per_package: Factor | None = None
    per_unit: Factor | None = None

    def apply(self, problem: Problem, where: str = "change") -> Problem:
        nodes = _select_nodes(problem, self.node, self.node_kind, where)

        def changed(n: Node) -> Node:
            if n.id not in nodes:
                return n
            per_package = self.per_package if self.per_package is not None else n.handling_per_package
            per_unit = self.per_unit if self.per_unit is not None else n.handling_per_unit
            return n.model_copy(
                update={"handling_per_package": per_package * self.factor, "handling_per_unit": per_unit * self.factor}
            )

        return problem.model_copy(update={"nodes": [changed(n) for n in problem.nodes]})


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


# ------------------------------------------------------------------------------------- demand changes


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


# ------------------------------------------------------------------------------------------ registry

CHANGE_TYPES: tuple[type[ChangeBase], ...] = (
    CloseNode,
    OpenNode,
    ScaleStock,
    SetStock,
    SetCapacity,
    AddInbound,
    RateCard,
    Handling,
    PolicyChange,
    FxShock,
    Duty,
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
