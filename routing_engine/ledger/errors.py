"""Ledger errors that carry data: which allocation, node, SKU or field is at fault, and why.

Bad input is a `ProblemError` (like the engine's own); a missing record or a state conflict is not.
"""

from __future__ import annotations

from routing_engine.errors import ProblemError


class LedgerError(Exception):
    """A request that is well-formed but refers to something missing or in the wrong state."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": type(self).__name__, "field": self.field, "message": self.message}


class NotFound(LedgerError):
    """No record with this id."""


class UnknownAllocation(NotFound):
    def __init__(self, allocation: str) -> None:
        super().__init__(f"no allocation {allocation!r}", field="id")
        self.allocation = allocation


class UnknownInbound(NotFound):
    def __init__(self, inbound: str) -> None:
        super().__init__(f"no inbound {inbound!r}", field="id")
        self.inbound = inbound


class Conflict(LedgerError):
    """The request is valid but the ledger's current state does not allow it."""


class InvalidTransition(Conflict):
    """An allocation cannot go from its status to the one asked for (e.g. confirm an expired hold)."""

    def __init__(self, allocation: str, status: str, action: str) -> None:
        super().__init__(f"allocation {allocation!r} is {status}; it cannot be {action}", field="status")
        self.allocation = allocation
        self.status = status
        self.action = action


class StockConflict(Conflict):
    """Stock kept changing under the allocation: every attempt lost a race for the units it chose."""

    def __init__(self, attempts: int, node: str, sku: str) -> None:
        super().__init__(
            f"stock changed during allocation {attempts} times in a row (last at node {node!r}, sku {sku!r}); retry",
            field=f"stock[{node}/{sku}]",
        )
        self.attempts = attempts
        self.node = node
        self.sku = sku


class NotReceived(Conflict):
    """A shipment needs units still on their way."""

    def __init__(self, inbound: str) -> None:
        super().__init__(f"inbound {inbound!r} has not been received yet", field=f"inbound[{inbound}]")
        self.inbound = inbound


class IdempotencyKeyReused(ProblemError):
    """The same Idempotency-Key was sent with a different request body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} was already used for a different request", field="Idempotency-Key")
        self.key = key


class InsufficientStock(ProblemError):
    """An adjustment would take on-hand stock below zero."""

    def __init__(self, node: str, sku: str, on_hand: int, delta: int) -> None:
        super().__init__(f"on hand is {on_hand}; cannot adjust by {delta}", field="delta")
        self.node = node
        self.sku = sku
        self.on_hand = on_hand
        self.delta = delta
