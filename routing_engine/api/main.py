"""The FastAPI application: `create_app(settings)` wires settings, ledger, routers and error handlers.

At startup it migrates the database, loads the network file, seeds an empty ledger and starts the
periodic expiry sweep; `routing-engine serve` runs `create_app` under uvicorn. Every /v1 router requires
an API key whose role covers it (unless `auth_required` is off); /healthz and /metrics are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from routing_engine.allocate import AllocateOptions
from routing_engine.api import errors
from routing_engine.api.deps import Area, authorize
from routing_engine.api.limits import BodyLimit
from routing_engine.api.metrics import PrometheusEvents
from routing_engine.api.observe import Observe, configure_logging
from routing_engine.api.routes import allocations, health, journal, metrics, network, scenarios, stock
from routing_engine.api.schemas import ErrorPublic
from routing_engine.api.settings import Settings
from routing_engine.ledger import Ledger, connect, load_network, seed, upgrade
from routing_engine.ledger.holds import expire_due, warm_up
from routing_engine.ledger.keys import KeyCache

API_VERSION = "1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": text}
    for code, text in {
        400: "The body cannot be read (not UTF-8 text).",
        404: "No such allocation or inbound.",
        409: "The allocation's status does not allow this, or stock kept changing (retry).",
        413: "Over a request limit (body size, orders per batch, lines per order).",
        422: "Invalid input; `field` names what is at fault. Nothing was held.",
    }.items()
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No API key, or an unknown or revoked one."},
    403: {"model": ErrorPublic, "description": "The API key's role does not cover this operation."},
}
#: The area each /v1 router serves, which decides the roles admitted (see `deps.READS` and `deps.WRITES`).
PROTECTED: tuple[tuple[Any, Area], ...] = (
    (allocations, "allocations"),
    (stock, "stock"),
    (network, "network"),
    (journal, "journal"),
    (scenarios, "scenarios"),
)


def open_ledger(settings: Settings) -> Ledger:
    """Connect, migrate, load the network, seed an empty ledger and warm up for the first requests."""
    engine = connect(settings.database_url, pool_size=settings.db_pool_size)
    upgrade(engine)
    network_problem = load_network(settings.network)
    seed(engine, network_problem)
    ledger = Ledger(
        engine=engine,
        network=network_problem,
        hold_ttl=dt.timedelta(seconds=settings.hold_ttl_s),
        single=AllocateOptions(time_limit_s=settings.single_time_limit_s),
        batch=AllocateOptions(time_limit_s=settings.batch_time_limit_s),
        hold_attempts=settings.hold_attempts,
        events=PrometheusEvents(),
    )
    warm_up(ledger)
    return ledger


async def _sweep_forever(app: FastAPI, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(Exception):  # a failed sweep is retried next period and at the next write
            await run_in_threadpool(expire_due, app.state.ledger)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = await run_in_threadpool(open_ledger, settings)
        app.state.key_cache = KeyCache(app.state.ledger.engine, settings.auth_cache_ttl_s)
        app.state.allocation_slots = anyio.CapacityLimiter(settings.allocation_threads)
        # What startup loaded (geography, solver code, the app) lives as long as the process: out of the
        # collector's sight, a full collection scans what requests left behind, not half a million objects.
        gc.collect()
        gc.freeze()
        sweeper = (
            asyncio.create_task(_sweep_forever(app, settings.sweep_interval_s)) if settings.sweep_interval_s else None
        )
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            app.state.ledger.engine.dispose()

    app = FastAPI(
        title="routing-engine",
        version=API_VERSION,
        summary="Order allocation on live stock, with atomic holds.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.settings = settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe)  # added last, so outermost: it sees every response, 413s included
    errors.install(app)
    for module, area in PROTECTED:
        app.include_router(module.router, dependencies=[Depends(authorize(area))], responses=AUTH_ERRORS)
    for module in (health, metrics):
        app.include_router(module.router)
    app.include_router(scenarios.page_router)
    return app
