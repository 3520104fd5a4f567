"""Liveness and readiness: the process answers and its database answers.

A load balancer takes a replica out of rotation on a 503.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from routing_engine.api.deps import LedgerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(ledger: LedgerDep) -> JSONResponse:
    try:
        with ledger.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": ledger.engine.dialect.name})
