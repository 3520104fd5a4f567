"""The `Ledger`: one database, the static network it allocates over, and how holds are made.

Every ledger operation takes it first; the API builds one at startup and shares it between requests.
"""

from __future__ import annotations

import datetime as dt
import threading
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


#: Fewest seconds between two sweeps before writes while holds keep coming due (the periodic sweep and
#: `expire_due` are not limited by it).
SWEEP_GAP = dt.timedelta(seconds=1)
#: Leeway for holds another process made just before a sweep but committed after it.
SWEEP_MARGIN = dt.timedelta(seconds=60)


class SweepSchedule:
    """When the next expiry sweep before a write can find something due, so other writes skip its query.

    After a sweep at `t` that saw the earliest remaining expiry `e`, nothing can come due before
    min(e, t + ttl - margin): a hold made later by any process expires a whole TTL after it was made.
    Assumes every process shares the hold TTL and, within the margin, the clock. A clock that goes back
    (a test's) makes the next write sweep.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dt.datetime | None = None
        self._next: dt.datetime | None = None

    def due(self, now: dt.datetime) -> bool:
        with self._lock:
            return self._last is None or self._next is None or now < self._last or now >= self._next

    def swept(self, now: dt.datetime, earliest: dt.datetime | None, ttl: dt.timedelta, *, more: bool) -> None:
        """A sweep at `now` left `earliest` as the first expiry still ahead; `more` if it stopped early."""
        quiet_until = now + ttl - min(SWEEP_MARGIN, ttl / 2)
        nxt = now if more else max(min(quiet_until, earliest or quiet_until), now + SWEEP_GAP)
        with self._lock:
            self._last, self._next = now, nxt


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
    sweeps: SweepSchedule = field(default_factory=SweepSchedule, compare=False)
