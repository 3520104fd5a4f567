"""Request and response bodies of the API, by resource: `...In` is what a client sends, `...Public` what it gets.

Public bodies are the ledger's own records under their API names, so there is one definition of each.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from routing_engine.ledger.records import AllocationRecord, InboundRecord, JournalEntry, StockRecord
from routing_engine.model import Frozen, Id, Inbound, Node, Order, Sku

# ---------------------------------------------------------------------------------- allocations


class AllocationIn(Frozen):
    """One order to allocate on live stock and hold."""

    order: Order


class BatchAllocationIn(Frozen):
    """Orders to allocate jointly and hold atomically."""

    orders: Annotated[list[Order], Field(min_length=1)]


class RejectIn(Frozen):
    """The node that refused its part of the allocation."""

    node: Id


class AllocationPublic(AllocationRecord):
    """An allocation: `results[0]` is the decision, later results re-route lines a node rejected;
    `holds` are the units held (status per hold), `expires_at` when unconfirmed holds lapse."""


class SweepPublic(Frozen):
    expired: int = Field(description="Allocations whose holds expired in this sweep.")


# ---------------------------------------------------------------------------------------- stock


#: Most units one movement may carry: far above any real stock, far below 64-bit integer overflow.
MAX_UNITS = 10**12


class ReceiptIn(Frozen):
    node: Id
    sku: Id
    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS)]
    ref: str | None = Field(default=None, max_length=255, description="Your reference (delivery note, RMA).")


class AdjustmentIn(Frozen):
    node: Id
    sku: Id
    delta: int = Field(
        ge=-MAX_UNITS, le=MAX_UNITS, description="Units added (positive) or removed (negative) from on-hand stock."
    )
    reason: str | None = Field(default=None, max_length=255)


class StockPublic(StockRecord):
    """Stock of one SKU at one node."""


class InboundIn(Inbound):
    """Supply on its way to a node."""

    quantity: Annotated[int, Field(ge=1, le=MAX_UNITS)]


class InboundPublic(InboundRecord):
    """Supply on its way; `reserved` of it is promised to backorders."""


# -------------------------------------------------------------------------------------- network


class NodePublic(Node):
    """A stock-holding location."""


class SkuPublic(Sku):
    """A stock-keeping unit."""


# -------------------------------------------------------------------------------------- journal


class JournalEntryPublic(JournalEntry):
    """One stock movement."""


class CheckPublic(Frozen):
    consistent: bool
    problems: list[str] = Field(description="Each place where stock, inbound, holds and journal disagree.")


class FieldErrorPublic(Frozen):
    field: str
    message: str
    type: str


class ErrorPublic(Frozen):
    """Every 4xx body: which error, which field or ID is at fault, and why (request validation: each one)."""

    error: str
    field: str | None
    message: str
    errors: list[FieldErrorPublic] | None = None
