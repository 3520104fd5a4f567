"""Errors that carry data: what is wrong and which field or ID is at fault.

They are raised deep inside the engine and turned into an exit code or an HTTP status only at the edge.
"""

from __future__ import annotations


class ProblemError(ValueError):
    """A problem that is well-formed JSON but cannot be allocated as given."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error": type(self).__name__, "field": self.field, "message": self.message}


class DuplicateId(ProblemError):
    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"duplicate {kind} id {id!r}", field=f"{kind}s[{id}]")
        self.kind = kind
        self.id = id


class UnknownReference(ProblemError):
    """A reference to a node, SKU, tariff or channel that the problem does not define."""

    def __init__(self, kind: str, id: str, where: str) -> None:
        super().__init__(f"unknown {kind} {id!r}", field=where)
        self.kind = kind
        self.id = id


class UnknownSku(UnknownReference):
    def __init__(self, sku: str, where: str) -> None:
        super().__init__("sku", sku, where)
        self.sku = sku


class UnknownNode(UnknownReference):
    def __init__(self, node: str, where: str) -> None:
        super().__init__("node", node, where)
        self.node = node


class MissingFxRate(ProblemError):
    def __init__(self, currency: str, where: str) -> None:
        super().__init__(f"currency {currency!r} is missing from the fx table", field=where)
        self.currency = currency


class UnresolvableDestination(ProblemError):
    def __init__(self, detail: str, where: str) -> None:
        super().__init__(f"cannot resolve destination: {detail}", field=where)
        self.detail = detail


class InvalidValue(ProblemError):
    """A value that is well-typed but contradicts another part of the problem."""
