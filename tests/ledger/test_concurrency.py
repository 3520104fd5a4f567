"""Concurrent allocate-and-hold on scarce stock never oversells, on SQLite and on PostgreSQL.

Threads start together at a barrier; each call must end in an allocation or a StockConflict (HTTP 409),
and afterwards the stock, inbound, holds and journal must agree.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from routing_engine.ledger import Ledger, check, holds, stock
from routing_engine.ledger.errors import InvalidTransition, StockConflict
from routing_engine.ledger.records import AllocationRecord
from routing_engine.ledger.testing import FakeClock, order

T = TypeVar("T")
THREADS = 16


def run_together(work: Callable[[int], T], threads: int = THREADS) -> list[T]:
    """Run work(0..threads-1) on that many threads released at once; re-raise any unexpected error."""
    barrier = threading.Barrier(threads)

    def start(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(start, range(threads)))


def assert_never_oversold(ledger: Ledger) -> None:
    for row in stock.levels(ledger.engine):
        assert row.reserved <= row.on_hand - row.safety_stock, row
    for supply in stock.inbound_supply(ledger.engine):
        assert supply.reserved <= supply.quantity, supply
    assert check(ledger.engine) == []


def test_racing_holds_on_one_stale_snapshot_admit_exactly_the_units_the_row_has(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every thread's solver sees the same 10 tees at lax and takes 3 there; with no retry, exactly
    3 holds (9 units) can succeed, whatever the interleaving. This is the conditional update alone."""
    stock.receive(ledger, "lax", "tee", 10)
    stale = holds.snapshot(ledger.engine, {"tee"})
    monkeypatch.setattr(holds, "snapshot", lambda *_: stale)
    one_try = dataclasses.replace(ledger, hold_attempts=1)

    def attempt(i: int) -> str:
        try:
            record, _ = holds.allocate_and_hold(one_try, [order(f"o{i}", ("tee", 3), near="lax")])
        except StockConflict:
            return "409"
        assert [(h.node, h.quantity) for h in record.holds] == [("lax", 3)]
        return "held"

    outcomes = run_together(attempt)
    assert sorted(outcomes).count("held") == 3
    assert outcomes.count("409") == THREADS - 3
    (lax,) = stock.levels(ledger.engine, node="lax", sku="tee")
    assert lax.reserved == 9
    assert_never_oversold(ledger)


def test_sixteen_threads_allocating_on_scarce_live_stock_never_oversell_and_all_get_an_answer(ledger: Ledger) -> None:
    """64 orders for about 100 units against 8 tees, 5 mugs and 6 inbound lamps."""

    def client(i: int) -> list[AllocationRecord | str]:
        rng = random.Random(i)
        answers: list[AllocationRecord | str] = []
        for k in range(4):
            lines = [("tee", rng.randint(1, 2)), ("mug", 1), ("lamp", rng.randint(0, 1))]
            wanted = order(f"o{i}-{k}", *[(sku, q) for sku, q in lines if q], near=rng.choice(["nyc", "chi", "lax"]))
            try:
                answers.append(holds.allocate_and_hold(ledger, [wanted])[0])
            except StockConflict:
                answers.append("409")
        return answers

    answers = [a for per_client in run_together(client) for a in per_client]
    assert len(answers) == 4 * THREADS
    records = [a for a in answers if isinstance(a, AllocationRecord)]
    held_units = sum(h.quantity for r in records for h in r.holds)
    decided_units = sum(
        line.from_stock + sum(u.quantity for u in line.from_inbound)
        for r in records
        for p in r.results[0].packages
        for line in p.lines
    )
    assert held_units == decided_units
    assert held_units == 8 + 5 + 6  # scarce: everything ends up held, nothing more
    assert_never_oversold(ledger)


def test_holds_confirms_releases_rejections_and_expiry_sweeps_racing_each_other_keep_the_ledger_consistent(
    ledger: Ledger, clock: FakeClock
) -> None:
    stock.receive(ledger, "lax", "tee", 6)
    stock.receive(ledger, "chi", "mug", 4)

    def client(i: int) -> int:
        rng = random.Random(100 + i)
        done = 0
        for k in range(4):
            if i == 0:  # the sweeper: time passes, due holds expire
                clock.advance(minutes=4)
                holds.expire_due(ledger)
                continue
            wanted = order(f"o{i}-{k}", ("tee", rng.randint(1, 3)), ("mug", 1), near=rng.choice(["nyc", "lax"]))
            try:
                record, _ = holds.allocate_and_hold(ledger, [wanted])
                action = rng.choice(["confirm", "release", "reject", "ship", "leave"])
                if action == "confirm":
                    holds.confirm(ledger, record.id)
                elif action == "release":
                    holds.release(ledger, record.id)
                elif action == "reject" and record.holds:
                    holds.reject(ledger, record.id, record.holds[0].node)
                elif action == "ship":
                    holds.confirm(ledger, record.id)
                    holds.ship(ledger, record.id)
            except (StockConflict, InvalidTransition):
                pass  # lost a race for stock, or the sweeper expired the hold first: both are answers
            done += 1
        return done

    assert sum(run_together(client)) == 4 * (THREADS - 1)
    assert_never_oversold(ledger)


def test_retries_racing_with_one_idempotency_key_hold_once_and_all_answer_with_that_allocation(ledger: Ledger) -> None:
    """Sixteen copies of one request with one key, released at once: the unique key lets one allocation
    be written; every other call loses on it and answers with that allocation as a replay."""
    wanted = order("o1", ("tee", 2), ("mug", 1))

    def attempt(_: int) -> tuple[str, bool]:
        record, replayed = holds.allocate_and_hold(ledger, [wanted], idempotency_key="checkout-1")
        return record.id, replayed

    outcomes = run_together(attempt)
    assert len({allocation_id for allocation_id, _ in outcomes}) == 1
    assert sorted(replayed for _, replayed in outcomes) == [False] + [True] * (THREADS - 1)
    assert sum(row.reserved for row in stock.levels(ledger.engine)) == 3
    assert_never_oversold(ledger)
