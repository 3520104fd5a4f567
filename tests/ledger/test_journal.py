"""The journal rebuilds stock and inbound exactly, and `check` finds any disagreement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from routing_engine.ledger import Ledger, check, holds, journal, rebuild, schema, stock
from routing_engine.ledger.testing import FakeClock, order
from routing_engine.model import Inbound


def test_rebuilding_from_the_journal_gives_the_stock_and_inbound_tables_after_every_kind_of_movement(
    ledger: Ledger, clock: FakeClock
) -> None:
    stock.receive(ledger, "nyc", "tee", 4)
    stock.adjust(ledger, "chi", "tee", -1)
    stock.announce_inbound(ledger, Inbound(id="po-2", node="lax", sku="tee", quantity=5, eta=dt.date(2026, 2, 1)))
    kept, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 3), ("lamp", 1), near="chi")])
    holds.confirm(ledger, kept.id)
    dropped, _ = holds.allocate_and_hold(ledger, [order("o2", ("mug", 2), near="lax")])
    holds.release(ledger, dropped.id)
    holds.allocate_and_hold(ledger, [order("o3", ("tee", 1))])
    clock.advance(hours=1)
    holds.expire_due(ledger)
    stock.receive_inbound(ledger, "po-1")
    holds.ship(ledger, kept.id)

    levels = rebuild(ledger.engine)
    table = {(r.node, r.sku): (r.on_hand, r.reserved) for r in stock.levels(ledger.engine)}
    assert {key: value for key, value in levels.stock.items()} == table
    assert levels.inbound == {i.id: (i.quantity, i.reserved) for i in stock.inbound_supply(ledger.engine)}
    assert check(ledger.engine) == []
    kinds = {e.kind for e in journal.entries(ledger.engine)}
    assert kinds == {"receipt", "adjustment", "inbound", "reservation", "confirmation", "release", "expiry", "shipment"}


def test_check_reports_a_stock_row_changed_behind_the_journals_back(ledger: Ledger) -> None:
    holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    with ledger.engine.begin() as conn:
        conn.execute(
            update(schema.stock)
            .where(schema.stock.c.node == "nyc", schema.stock.c.sku == "tee")
            .values(on_hand=7, reserved=1)
        )
    assert check(ledger.engine) == [
        "stock[nyc/tee] (on_hand, reserved) is (7, 1), journal says (5, 2)",
        "stock[nyc/tee] reserved is 1, its holds sum to 2",
    ]


def test_journal_entries_page_in_id_order(ledger: Ledger) -> None:
    first = journal.entries(ledger.engine, limit=2)
    rest = journal.entries(ledger.engine, after=first[-1].id)
    everything = journal.entries(ledger.engine)
    assert [e.id for e in first + rest] == [e.id for e in everything]
    assert everything[0].kind == "receipt"
