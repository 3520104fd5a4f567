"""What the ledger returns: stock levels, inbound supply, holds, allocations and journal entries.

Frozen pydantic models, so the API can serve them as they are and tests can compare them by value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from routing_engine.model import AllocationResult, Frozen, Order

AllocationStatus = Literal["held", "confirmed", "released", "expired", "shipped"]
JournalKind = Literal[
    "receipt", "adjustment", "reservation", "confirmation", "release", "expiry", "shipment", "inbound"
]
#: Statuses whose units are still held (reserved) in stock or inbound.
ACTIVE: tuple[AllocationStatus, ...] = ("held", "confirmed")
STOCK_COLUMNS = ("node", "sku", "on_hand", "reserved", "safety_stock", "channel_buffers")


class StockRecord(Frozen):
    """Stock of one SKU at one node as the ledger holds it now."""

    node: str
    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    channel_buffers: dict[str, int]
    available: int = Field(description="Units a new allocation may take: on hand - reserved - safety stock, >= 0.")

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> StockRecord:
        """From a stock table row."""
        available = max(0, row["on_hand"] - row["reserved"] - row["safety_stock"])
        return cls.model_validate({k: row[k] for k in STOCK_COLUMNS} | {"available": available})


class InboundRecord(Frozen):
    """Supply on its way to a node; `quantity` is what is still to arrive (0 once received)."""

    id: str
    node: str
    sku: str
    quantity: int
    reserved: int
    eta: dt.date
    status: Literal["open", "received"]


class HoldRecord(Frozen):
    """Units one allocation holds for one line at one node, from stock or from an inbound (backorder)."""

    id: int
    order: str | None
    line: str | None
    node: str
    sku: str
    inbound: str | None
    quantity: int
    status: AllocationStatus


class AllocationRecord(Frozen):
    """An allocate-and-hold call: its orders, its results (the first, then one per rejected node), its holds."""

    id: str
    status: AllocationStatus
    created_at: dt.datetime
    expires_at: dt.datetime | None
    orders: list[Order]
    results: list[AllocationResult]
    rejected_nodes: list[str]
    holds: list[HoldRecord]


class JournalEntry(Frozen):
    id: int
    at: dt.datetime
    kind: JournalKind
    node: str
    sku: str
    inbound: str | None
    delta_on_hand: int
    delta_reserved: int
    ref: str | None
