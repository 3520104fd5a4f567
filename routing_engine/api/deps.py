"""Dependencies of the route handlers as `Annotated` aliases: the ledger, the settings, request headers, auth.

Handlers declare what they need (`ledger: LedgerDep`) and FastAPI supplies it per request; each router
declares the area it serves with `authorize(area)`, which admits the API key roles allowed there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from anyio import CapacityLimiter
from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from routing_engine.api.errors import Forbidden, NotAuthenticated
from routing_engine.api.settings import Settings
from routing_engine.ledger import Ledger
from routing_engine.ledger.keys import ApiKey, KeyCache, Role

Area = Literal["allocations", "stock", "network", "journal", "scenarios"]
#: What each role may do besides reading (GET) where it may read: admin everything, planner only reads.
WRITES: dict[Role, frozenset[Area]] = {
    "allocator": frozenset({"allocations"}),
    "inventory": frozenset({"stock", "network"}),
    "planner": frozenset({"scenarios"}),
    "admin": frozenset({"allocations", "stock", "network", "journal", "scenarios"}),
}
READS: dict[Role, frozenset[Area]] = {
    "allocator": frozenset({"allocations"}),
    "inventory": frozenset({"stock", "network", "journal"}),
    "planner": frozenset({"allocations", "stock", "network", "journal", "scenarios"}),
    "admin": WRITES["admin"],
}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>` of an API key.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key's token.")


# Async, though they do not wait: FastAPI runs a plain `def` dependency in the thread pool, a hop per request.
async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_allocation_slots(request: Request) -> CapacityLimiter:
    slots: CapacityLimiter = request.app.state.allocation_slots
    return slots


def may(role: Role, area: Area, method: str) -> bool:
    return area in (READS if method in _SAFE_METHODS else WRITES)[role]


def authorize(area: Area) -> Callable[..., object]:
    """A dependency admitting a request with a live API key whose role may use `area` with its method:
    401 without a key or with an unknown, wrong or revoked one, 403 outside the role."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        header_token: Annotated[str | None, Depends(api_key_header)],
    ) -> ApiKey | None:
        if not request.app.state.settings.auth_required:
            return None
        token = credentials.credentials if credentials is not None else header_token
        if not token:
            raise NotAuthenticated("an API key is required: `Authorization: Bearer <token>` or `X-API-Key`")
        cache: KeyCache = request.app.state.key_cache
        key = cache.lookup(token) or await run_in_threadpool(cache.authenticate, token)
        if key is None:
            raise NotAuthenticated("the API key is unknown or revoked")
        request.state.api_key = key.id
        if not may(key.role, area, request.method):
            raise Forbidden(key.role, area, request.method)
        return key

    return dependency


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
#: Threads of this process that may compute allocations at once (`Settings.allocation_threads`).
AllocationSlots = Annotated[CapacityLimiter, Depends(get_allocation_slots)]
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
