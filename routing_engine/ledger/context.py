"""The `Ledger`: one database, the static network it allocates over, and how holds are made.

Every ledger operation takes it first; the API builds one at startup and shares it between requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine

from routing_engine.allocate import AllocateOptions
from routing_engine.ledger.db import utc_now
from routing_engine.model import Problem


class LedgerEvents(Protocol):
    """What the ledger reports as it works (the API turns it into metrics); the ledger itself keeps none."""

    def solved(self, orders: int, seconds: float) -> None:
        """An allocation of `orders` orders was computed in `seconds` (model building and solving)."""

    def guard_rejected(self, node: str, sku: str) -> None:
        """A conditional hold update changed no row: stock moved since the snapshot (the oversell guard)."""


class NoEvents:
    def solved(self, orders: int, seconds: float) -> None:
        pass

    def guard_rejected(self, node: str, sku: str) -> None:
        pass


@dataclass(frozen=True)
class Ledger:
    """`network` holds the static parts of a problem (currency, fx, tariffs, countries, policy, channels);
    nodes, SKUs, stock and inbound live in the database."""

    engine: Engine
    network: Problem
    hold_ttl: dt.timedelta = dt.timedelta(minutes=15)
    single: AllocateOptions = field(default_factory=lambda: AllocateOptions(time_limit_s=5.0))
    batch: AllocateOptions = field(default_factory=lambda: AllocateOptions(time_limit_s=30.0))
    hold_attempts: int = 4
    clock: Callable[[], dt.datetime] = utc_now
    events: LedgerEvents = field(default_factory=NoEvents)
