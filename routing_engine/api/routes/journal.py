"""The journal: read movements in order, and check that stock, inbound and holds agree with it.

A non-empty `problems` list means the ledger needs attention; it is never repaired silently.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from routing_engine.api.deps import LedgerDep
from routing_engine.api.schemas import CheckPublic, JournalEntryPublic
from routing_engine.ledger import journal
from routing_engine.ledger.records import JournalEntry

router = APIRouter(prefix="/v1/journal", tags=["journal"])


@router.get("", response_model=list[JournalEntryPublic])
def entries(
    ledger: LedgerDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="Entries with an id above this.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[JournalEntry]:
    return journal.entries(ledger.engine, after=after, limit=limit)


@router.get("/check", response_model=CheckPublic)
def check(ledger: LedgerDep) -> CheckPublic:
    problems = journal.check(ledger.engine)
    return CheckPublic(consistent=not problems, problems=problems)
