"""Stock and inbound supply: read levels, post receipts and adjustments, announce and receive inbound.

Each movement is journaled in the same transaction as the change.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from routing_engine.api.deps import LedgerDep
from routing_engine.api.schemas import AdjustmentIn, InboundIn, InboundPublic, ReceiptIn, StockPublic
from routing_engine.ledger import stock
from routing_engine.ledger.records import InboundRecord, StockRecord

router = APIRouter(prefix="/v1", tags=["stock"])


@router.get("/stock", response_model=list[StockPublic])
def levels(ledger: LedgerDep, node: str | None = None, sku: str | None = None) -> list[StockRecord]:
    """Stock levels (on hand, reserved, safety stock, available), optionally of one node and/or SKU."""
    return stock.levels(ledger.engine, node=node, sku=sku)


@router.post("/stock/receipts", status_code=201, response_model=StockPublic)
def receipt(body: ReceiptIn, ledger: LedgerDep) -> StockRecord:
    """Units arrived at a node outside an announced inbound."""
    return stock.receive(ledger, body.node, body.sku, body.quantity, ref=body.ref)


@router.post("/stock/adjustments", status_code=201, response_model=StockPublic)
def adjustment(body: AdjustmentIn, ledger: LedgerDep) -> StockRecord:
    """Correct on-hand stock (count, damage, loss); never below zero."""
    return stock.adjust(ledger, body.node, body.sku, body.delta, reason=body.reason)


@router.get("/inbound", response_model=list[InboundPublic])
def inbound(ledger: LedgerDep, status: Literal["open", "received"] | None = None) -> list[InboundRecord]:
    return stock.inbound_supply(ledger.engine, status=status)


@router.post("/inbound", status_code=201, response_model=InboundPublic)
def announce(body: InboundIn, ledger: LedgerDep) -> InboundRecord:
    """Supply on its way to a node: promisable to backorders from now on."""
    return stock.announce_inbound(ledger, body)


@router.post("/inbound/{inbound_id}/receive", response_model=InboundPublic)
def receive(inbound_id: str, ledger: LedgerDep) -> InboundRecord:
    """The supply arrived: its units join stock and the backorders on it become holds on stock."""
    return stock.receive_inbound(ledger, inbound_id)
