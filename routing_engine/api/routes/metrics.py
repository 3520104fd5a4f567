"""Prometheus metrics in the text exposition format, open like /healthz so a scraper needs no key.

What is measured and how several workers are summed is in `routing_engine.api.metrics`.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from routing_engine.api.deps import LedgerDep
from routing_engine.api.metrics import exposition

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text."}},
)
async def metrics(ledger: LedgerDep) -> Response:
    """Request latency, allocations by outcome, solver time, oversell guard rejections, held allocations."""
    try:
        text = await run_in_threadpool(exposition, ledger)
    except SQLAlchemyError:  # the process's own metrics still help while the database is down
        text = await run_in_threadpool(exposition, None)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
