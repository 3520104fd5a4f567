"""Errors at the HTTP edge: each becomes a 4xx whose JSON body names the field or ID at fault.

Body: {"error": class name, "field": where, "message": what}; validation errors also list `errors`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from routing_engine.errors import ProblemError
from routing_engine.ledger.errors import Conflict, LedgerError, NotFound


class RequestTooLarge(LedgerError):
    """A request over one of the configured limits (body size, orders per batch, lines per order)."""

    def __init__(self, field: str, limit: int, actual: int, unit: str) -> None:
        super().__init__(f"{actual} {unit} is over the limit of {limit}", field=field)
        self.limit = limit
        self.actual = actual


class NotAuthenticated(LedgerError):
    """No API key, or one that is unknown, wrong or revoked (401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="Authorization")


class Forbidden(LedgerError):
    """A valid API key whose role does not cover this operation (403)."""

    def __init__(self, role: str, area: str, method: str) -> None:
        super().__init__(f"role {role!r} may not {method} {area}", field="Authorization")
        self.role = role
        self.area = area


def _body(error: str, field: str | None, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "field": field, "message": message, **extra}


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "order", "lines", 0, "sku")` -> `order.lines[0].sku`; headers and query keep their name."""
    if len(loc) == 2 and loc[0] == "body" and isinstance(loc[1], int):
        return "body"  # unparseable JSON: loc[1] is a character offset
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _status(exc: LedgerError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, RequestTooLarge):
        return 413
    if isinstance(exc, NotAuthenticated):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    return 400


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"}) if isinstance(route, Route) else (None, None)
        if match in (Match.FULL, Match.PARTIAL) and route.methods:
            methods |= route.methods
    return sorted(methods)


def install(app: FastAPI) -> None:
    """Map the engine's and the ledger's errors, and request validation, to JSON 4xx responses."""

    @app.exception_handler(ProblemError)
    async def problem(_: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=422)

    @app.exception_handler(LedgerError)
    async def ledger(_: Request, exc: LedgerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        return JSONResponse(exc.to_dict(), status_code=_status(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _location(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()[:20]]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse(_body("ValidationError", first["field"], first["message"], errors=errors), status_code=422)

    @app.exception_handler(HTTPException)
    async def http(request: Request, exc: HTTPException) -> JSONResponse:
        field = {400: "body", 404: "path", 405: "method", 413: "body"}.get(exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            _body("HTTPException", field, str(exc.detail)), status_code=exc.status_code, headers=headers
        )
