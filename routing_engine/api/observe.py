"""Per-request observation: a request ID (taken from X-Request-ID or made), one JSON log line, metrics.

`configure_logging` is called by `create_app`, never on import: a library leaves logging to its host.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routing_engine.api.metrics import ALLOCATIONS, REQUEST_SECONDS, allocation_outcome

REQUEST_ID = "X-Request-ID"
#: A client's request ID is kept if it is short and plain, else replaced (it goes into logs and headers).
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Routes whose outcome is counted in `routing_engine_allocations`, and the kind they count as.
_ALLOCATING = {"/v1/allocations": "single", "/v1/allocations/batch": "batch"}
access_log = logging.getLogger("routing_engine.api.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields` extra."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    """Send the package's logs to stderr as JSON lines; calling it again changes only the level."""
    logger = logging.getLogger("routing_engine")
    logger.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)


def _route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class Observe:
    """ASGI middleware, outermost: sets the request ID, times the request, logs it and records metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID.lower().encode(), b"").decode("latin-1")
        # A made-up ID only has to be unique, not unguessable: no system call for random bytes per request.
        request_id = given if _ACCEPTED_ID.fullmatch(given) else f"{random.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        replayed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                replayed = (b"idempotent-replayed", b"true") in headers
                message = {**message, "headers": [*headers, (REQUEST_ID.lower().encode(), request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, request_id, status, replayed, time.perf_counter() - started)

    @staticmethod
    def _record(scope: Scope, request_id: str, status: int, replayed: bool, seconds: float) -> None:
        route = _route_template(scope)
        method = scope["method"]
        REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)
        if method == "POST" and route in _ALLOCATING and status < 500:
            ALLOCATIONS.labels(_ALLOCATING[route], allocation_outcome(status, replayed)).inc()
        fields = {
            "request_id": request_id,
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        }
        if key := scope.get("state", {}).get("api_key"):
            fields["api_key"] = key
        access_log.info("%s %s %d", method, scope["path"], status, extra={"fields": fields})
