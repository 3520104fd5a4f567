"""Request limits: body size (checked while the body streams in), orders per batch, lines per order, units.

Over a size limit is a 413 naming the field, a huge quantity a 422; both before anything is held.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routing_engine.api.errors import RequestTooLarge
from routing_engine.api.settings import Settings
from routing_engine.errors import InvalidValue
from routing_engine.model import Order


def check_orders(orders: Sequence[Order], settings: Settings, *, single: bool) -> None:
    """Raise `RequestTooLarge` naming the batch or order over its limit, `InvalidValue` for a huge quantity."""
    if len(orders) > settings.max_orders_per_batch:
        raise RequestTooLarge("orders", settings.max_orders_per_batch, len(orders), "orders")
    for order in orders:
        where = "order" if single else f"orders[{order.id}]"
        if len(order.lines) > settings.max_lines_per_order:
            raise RequestTooLarge(f"{where}.lines", settings.max_lines_per_order, len(order.lines), "lines")
        for line in order.lines:
            if line.quantity > settings.max_units_per_line:
                raise InvalidValue(
                    f"{line.quantity} units is over the limit of {settings.max_units_per_line} per line",
                    field=f"{where}.lines[{line.id}].quantity",
                )


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets a 413 naming the field "body", before any handler runs.

    A declared Content-Length is refused up front; a streamed body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            body = json.dumps(RequestTooLarge("body", self.max_bytes, int(declared), "bytes").to_dict()).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes FastAPI's body parsing untouched and reaches our handler.
                    raise HTTPException(413, f"body is over the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)
