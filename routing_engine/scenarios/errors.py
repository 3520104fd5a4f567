"""Errors of scenario files and changes, data-carrying like the engine's own.

They subclass `ProblemError`, so the CLI turns them into exit code 2 with the field at fault.
"""

from __future__ import annotations

from routing_engine.errors import ProblemError, UnknownReference


class UnknownChangeKind(UnknownReference):
    """A change whose `kind` is not in the registry."""

    def __init__(self, kind: str, where: str, known: list[str]) -> None:
        super().__init__("change kind", kind, where)
        self.known = known
        self.message = f"unknown change kind {kind!r} (known: {', '.join(known)})"
        self.args = (f"{where}: {self.message}",)


class ScenarioFileError(ProblemError):
    """A scenario file that cannot be read or does not describe a valid scenario."""
