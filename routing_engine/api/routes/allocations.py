"""Allocations: allocate one order or a batch on live stock and hold it; confirm, release, reject, ship.

Every write first expires due holds (`holds.expire_if_due`: at most once a second while holds keep coming
due); a rejected request (4xx) holds nothing.
"""

from __future__ import annotations

from functools import partial

from anyio import to_thread
from fastapi import APIRouter, Response

from routing_engine.api.deps import AllocationSlots, IdempotencyKey, LedgerDep, SettingsDep
from routing_engine.api.limits import check_orders
from routing_engine.api.schemas import AllocationIn, AllocationPublic, BatchAllocationIn, RejectIn, SweepPublic
from routing_engine.ledger import holds
from routing_engine.ledger.records import AllocationRecord

router = APIRouter(prefix="/v1/allocations", tags=["allocations"])

REPLAYED = "Idempotent-Replayed"


def _created(record: AllocationRecord, replayed: bool) -> Response:
    """The allocation serialised once by pydantic: returned as a model, FastAPI would validate it again."""
    return Response(
        record.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={REPLAYED: str(replayed).lower()},
    )


# The allocating handlers are async and hand the ledger work to a thread themselves: one hop per request
# instead of one for the handler and another for FastAPI's check of its return value, and at most
# `Settings.allocation_threads` at once (the others wait in the event loop, costing nothing).
@router.post("", status_code=201, response_model=AllocationPublic)
async def allocate_one(
    body: AllocationIn, ledger: LedgerDep, settings: SettingsDep, slots: AllocationSlots, key: IdempotencyKey = None
) -> Response:
    """Allocate one order on live stock and hold the units it gets until confirmed or the TTL passes."""
    check_orders([body.order], settings, single=True)
    work = partial(holds.allocate_and_hold, ledger, [body.order], idempotency_key=key)
    return _created(*await to_thread.run_sync(work, limiter=slots))


@router.post("/batch", status_code=201, response_model=AllocationPublic)
async def allocate_batch(
    body: BatchAllocationIn,
    ledger: LedgerDep,
    settings: SettingsDep,
    slots: AllocationSlots,
    key: IdempotencyKey = None,
) -> Response:
    """Allocate many orders jointly (one optimisation) and hold all of it atomically."""
    check_orders(body.orders, settings, single=False)
    work = partial(holds.allocate_and_hold, ledger, body.orders, idempotency_key=key)
    return _created(*await to_thread.run_sync(work, limiter=slots))


@router.post("/expire", response_model=SweepPublic)
def expire(ledger: LedgerDep) -> SweepPublic:
    """Expire every held allocation whose TTL has passed (also done before each write and periodically)."""
    return SweepPublic(expired=holds.expire_due(ledger))


@router.get("/{allocation_id}", response_model=AllocationPublic)
def read(allocation_id: str, ledger: LedgerDep) -> AllocationRecord:
    return holds.get(ledger, allocation_id)


@router.post("/{allocation_id}/confirm", response_model=AllocationPublic)
def confirm(allocation_id: str, ledger: LedgerDep) -> AllocationRecord:
    """The order was placed: its holds stop expiring."""
    return holds.confirm(ledger, allocation_id)


@router.post("/{allocation_id}/release", response_model=AllocationPublic)
def release(allocation_id: str, ledger: LedgerDep) -> AllocationRecord:
    """Give the held units back."""
    return holds.release(ledger, allocation_id)


@router.post("/{allocation_id}/reject", response_model=AllocationPublic)
def reject(allocation_id: str, body: RejectIn, ledger: LedgerDep) -> AllocationRecord:
    """A node refused its part (short pick, closed): re-route its lines to other nodes."""
    return holds.reject(ledger, allocation_id, body.node)


@router.post("/{allocation_id}/ship", response_model=AllocationPublic)
def ship(allocation_id: str, ledger: LedgerDep) -> AllocationRecord:
    """A confirmed allocation shipped: its units leave on-hand stock."""
    return holds.ship(ledger, allocation_id)
