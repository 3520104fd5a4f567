"""Dependencies of the route handlers as `Annotated` aliases: the ledger, the settings, request headers.

Handlers declare what they need (`ledger: LedgerDep`) and FastAPI supplies it per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from routing_engine.api.settings import Settings
from routing_engine.ledger import Ledger


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retrying with the same key returns the same allocation and holds nothing twice.",
    ),
]
