"""Allocate-and-hold on live stock and the life of a hold: confirm, release, expire, reject, ship."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from routing_engine.errors import UnknownNode, UnknownSku
from routing_engine.ledger import Ledger, check, holds, schema, stock
from routing_engine.ledger.errors import (
    IdempotencyKeyReused,
    InvalidTransition,
    NotReceived,
    StockConflict,
    UnknownAllocation,
)
from routing_engine.ledger.records import AllocationRecord
from routing_engine.ledger.testing import FakeClock, order
from routing_engine.model import Inbound, StockLevel


def available(ledger: Ledger, node: str, sku: str) -> int:
    (row,) = stock.levels(ledger.engine, node=node, sku=sku)
    return row.available


def reserved(ledger: Ledger, node: str, sku: str) -> int:
    (row,) = stock.levels(ledger.engine, node=node, sku=sku)
    return row.reserved


def held(record: AllocationRecord) -> list[tuple[str, str, str | None, int, str]]:
    return sorted((h.node, h.sku, h.inbound, h.quantity, h.status) for h in record.holds)


def count(ledger: Ledger, table: str) -> int:
    with ledger.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one()


def test_an_order_next_to_a_node_with_stock_is_held_there_and_lowers_its_available_stock(ledger: Ledger) -> None:
    record, replayed = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    assert not replayed
    assert record.status == "held"
    assert held(record) == [("nyc", "tee", None, 2, "held")]
    assert record.expires_at == ledger.clock() + ledger.hold_ttl
    assert record.results[0].kpis.units_shipped_now == 2
    assert available(ledger, "nyc", "tee") == 3
    assert check(ledger.engine) == []


def test_safety_stock_is_never_allocated(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("mug", 1))])
    assert held(record) == [("nyc", "mug", None, 1, "held")]
    second, _ = holds.allocate_and_hold(ledger, [order("o2", ("mug", 1))])
    assert held(second) == [("lax", "mug", None, 1, "held")]  # nyc's last mug is safety stock
    assert reserved(ledger, "nyc", "mug") == 1


def test_channel_buffers_withhold_units_from_that_channel_only(ledger: Ledger) -> None:
    market, _ = holds.allocate_and_hold(ledger, [order("m1", ("mug", 4), near="lax", channel="marketplace")])
    from_lax = sum(h.quantity for h in market.holds if h.node == "lax")
    assert from_lax == 2  # lax has 4 mugs, 2 withheld from the marketplace
    web, _ = holds.allocate_and_hold(ledger, [order("w1", ("mug", 2), near="lax")])
    assert held(web) == [("lax", "mug", None, 2, "held")]
    assert check(ledger.engine) == []


def test_units_with_no_stock_now_are_backordered_as_holds_on_the_inbound(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("lamp", 2), near="chi")])
    assert held(record) == [("chi", "lamp", "po-1", 2, "held")]
    (po,) = stock.inbound_supply(ledger.engine)
    assert (po.quantity, po.reserved) == (6, 2)
    assert record.results[0].kpis.units_backordered == 2
    assert check(ledger.engine) == []


def test_a_backorder_becomes_a_hold_on_stock_when_its_inbound_is_received_and_then_ships(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("lamp", 2), near="chi")])
    holds.confirm(ledger, record.id)
    with pytest.raises(NotReceived):
        holds.ship(ledger, record.id)
    stock.receive_inbound(ledger, "po-1")
    assert (reserved(ledger, "chi", "lamp"), available(ledger, "chi", "lamp")) == (2, 4)
    assert check(ledger.engine) == []
    shipped = holds.ship(ledger, record.id)
    assert shipped.status == "shipped"
    (row,) = stock.levels(ledger.engine, node="chi", sku="lamp")
    assert (row.on_hand, row.reserved) == (4, 0)
    assert check(ledger.engine) == []


def test_a_batch_is_allocated_jointly_and_held_in_one_allocation(ledger: Ledger) -> None:
    orders = [order("o1", ("tee", 4)), order("o2", ("tee", 3), near="chi"), order("o3", ("mug", 1), near="lax")]
    record, _ = holds.allocate_and_hold(ledger, orders)
    assert record.results[0].solver.solver.startswith("mip")
    assert held(record) == [
        ("chi", "tee", None, 3, "held"),
        ("lax", "mug", None, 1, "held"),
        ("nyc", "tee", None, 4, "held"),
    ]
    assert check(ledger.engine) == []


def test_confirming_stops_the_hold_expiring_and_confirming_twice_is_harmless(ledger: Ledger, clock: FakeClock) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    confirmed = holds.confirm(ledger, record.id)
    assert (confirmed.status, confirmed.expires_at) == ("confirmed", None)
    assert holds.confirm(ledger, record.id) == confirmed
    clock.advance(hours=5)
    assert holds.expire_due(ledger) == 0
    assert reserved(ledger, "nyc", "tee") == 2
    assert check(ledger.engine) == []


def test_a_hold_expires_after_its_ttl_and_gives_its_units_back(ledger: Ledger, clock: FakeClock) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2)), order("o2", ("lamp", 1), near="chi")])
    clock.advance(minutes=9)
    assert holds.expire_due(ledger) == 0
    clock.advance(minutes=1)
    assert holds.expire_due(ledger) == 1
    expired = holds.get(ledger, record.id)
    assert expired.status == "expired"
    assert {h.status for h in expired.holds} == {"expired"}
    assert reserved(ledger, "nyc", "tee") == 0
    assert stock.inbound_supply(ledger.engine)[0].reserved == 0
    with pytest.raises(InvalidTransition) as error:
        holds.confirm(ledger, record.id)
    assert error.value.to_dict()["field"] == "status"
    assert check(ledger.engine) == []


def test_a_hold_past_its_ttl_cannot_be_confirmed_even_before_the_sweep(ledger: Ledger, clock: FakeClock) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    clock.advance(minutes=11)
    with pytest.raises(InvalidTransition, match="expired"):
        holds.confirm(ledger, record.id)
    assert holds.get(ledger, record.id).status == "expired"  # the confirm's own sweep expired it
    assert reserved(ledger, "nyc", "tee") == 0


def test_the_next_write_sweeps_expired_holds_before_it_allocates(ledger: Ledger, clock: FakeClock) -> None:
    holds.allocate_and_hold(ledger, [order("o1", ("tee", 5))])
    clock.advance(minutes=30)
    record, _ = holds.allocate_and_hold(ledger, [order("o2", ("tee", 5))])
    assert held(record) == [("nyc", "tee", None, 5, "held")]


def test_releasing_gives_every_unit_back_and_releasing_again_is_harmless(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2), ("lamp", 2), near="chi")])
    released = holds.release(ledger, record.id)
    assert released.status == "released"
    assert {h.status for h in released.holds} == {"released"}
    assert holds.release(ledger, record.id).status == "released"
    assert reserved(ledger, "chi", "tee") == 0
    assert stock.inbound_supply(ledger.engine)[0].reserved == 0
    assert check(ledger.engine) == []


def test_shipping_needs_a_confirmed_allocation_and_takes_units_off_on_hand(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    with pytest.raises(InvalidTransition, match="confirm it first"):
        holds.ship(ledger, record.id)
    holds.confirm(ledger, record.id)
    assert holds.ship(ledger, record.id).status == "shipped"
    assert holds.ship(ledger, record.id).status == "shipped"
    (row,) = stock.levels(ledger.engine, node="nyc", sku="tee")
    assert (row.on_hand, row.reserved) == (3, 0)
    with pytest.raises(InvalidTransition):
        holds.release(ledger, record.id)
    assert check(ledger.engine) == []


def test_rejecting_a_node_reroutes_its_lines_to_another_node_and_releases_its_units(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2), ("mug", 1))])
    assert held(record) == [("nyc", "mug", None, 1, "held"), ("nyc", "tee", None, 2, "held")]
    rerouted = holds.reject(ledger, record.id, "nyc")
    assert rerouted.rejected_nodes == ["nyc"]
    assert len(rerouted.results) == 2
    assert held(rerouted) == [
        ("chi", "tee", None, 2, "held"),
        ("lax", "mug", None, 1, "held"),
        ("nyc", "mug", None, 1, "released"),
        ("nyc", "tee", None, 2, "released"),
    ]
    assert (reserved(ledger, "nyc", "tee"), reserved(ledger, "chi", "tee")) == (0, 2)
    assert check(ledger.engine) == []


def test_rejecting_keeps_every_refused_node_excluded_and_reports_what_cannot_be_rerouted(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 4))])
    holds.confirm(ledger, record.id)
    first = holds.reject(ledger, record.id, "nyc")
    assert held(first)[0] == ("chi", "tee", None, 3, "confirmed")  # chi has only 3 tees
    assert first.results[-1].unfilled[0].quantity == 1
    second = holds.reject(ledger, record.id, "chi")
    assert second.rejected_nodes == ["chi", "nyc"]
    assert [h for h in second.holds if h.status == "confirmed"] == []
    assert second.results[-1].unfilled[0].reason == "no_stock"
    assert check(ledger.engine) == []


def test_rejecting_an_unknown_node_or_a_released_allocation_is_refused(ledger: Ledger) -> None:
    record, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 1))])
    with pytest.raises(UnknownNode):
        holds.reject(ledger, record.id, "paris")
    holds.release(ledger, record.id)
    with pytest.raises(InvalidTransition):
        holds.reject(ledger, record.id, "nyc")
    with pytest.raises(UnknownAllocation):
        holds.reject(ledger, "al_missing", "nyc")


def test_the_same_idempotency_key_returns_the_same_allocation_and_holds_nothing_twice(ledger: Ledger) -> None:
    first, replayed_first = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))], idempotency_key="k-1")
    again, replayed_again = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))], idempotency_key="k-1")
    assert (replayed_first, replayed_again) == (False, True)
    assert again == first
    assert reserved(ledger, "nyc", "tee") == 2
    assert count(ledger, "allocations") == 1
    with pytest.raises(IdempotencyKeyReused) as error:
        holds.allocate_and_hold(ledger, [order("o1", ("tee", 3))], idempotency_key="k-1")
    assert error.value.field == "Idempotency-Key"


def test_bad_input_raises_a_problem_error_naming_the_line_and_holds_nothing(ledger: Ledger) -> None:
    with pytest.raises(UnknownSku) as error:
        holds.allocate_and_hold(ledger, [order("o1", ("tee", 1), ("sofa", 1))])
    assert error.value.field == "orders[o1].lines[2].sku"
    assert (count(ledger, "allocations"), count(ledger, "reservations")) == (0, 0)
    assert reserved(ledger, "nyc", "tee") == 0


def test_a_hold_that_cannot_be_fully_satisfied_holds_nothing_at_all(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The solver sees 10 tees at nyc (a stale snapshot; there are 5): the mug row is held first, then the
    tee row's conditional update fails, and the whole transaction, mug included, is rolled back."""
    real = holds.snapshot(ledger.engine, {"tee", "mug"})
    stale = [s.model_copy(update={"on_hand": 10}) if (s.node, s.sku) == ("nyc", "tee") else s for s in real.stock]
    monkeypatch.setattr(holds, "snapshot", lambda *_: type(real)(real.nodes, real.skus, stale, real.inbound))
    journal_before = count(ledger, "journal")
    with pytest.raises(StockConflict) as error:
        holds.allocate_and_hold(ledger, [order("o1", ("mug", 1), ("tee", 8))])
    assert error.value.to_dict()["field"] == "stock[nyc/tee]"
    assert (reserved(ledger, "nyc", "mug"), reserved(ledger, "nyc", "tee")) == (0, 0)
    assert (count(ledger, "allocations"), count(ledger, "reservations")) == (0, 0)
    assert count(ledger, "journal") == journal_before
    assert check(ledger.engine) == []


def test_a_buffered_channel_order_waiting_for_inbound_at_the_same_node_is_held(ledger: Ledger) -> None:
    eta = ledger.clock().date() + dt.timedelta(days=2)
    stock.announce_inbound(ledger, Inbound(id="po-9", node="lax", sku="mug", quantity=3, eta=eta))
    record, _ = holds.allocate_and_hold(ledger, [order("m1", ("mug", 5), near="lax", channel="marketplace")])
    assert sum(h.quantity for h in record.holds) == 5


def test_the_answer_built_from_what_was_written_equals_the_allocation_read_back(ledger: Ledger) -> None:
    single, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2), ("lamp", 1))])
    batch, _ = holds.allocate_and_hold(ledger, [order("o2", ("mug", 1), near="lax"), order("o3", ("tee", 1))])
    assert any(h.inbound == "po-1" for h in single.holds)  # a backorder hold as well as stock holds
    assert holds.get(ledger, single.id) == single
    assert holds.get(ledger, batch.id) == batch


def test_writes_skip_the_expiry_query_until_a_hold_can_be_due_and_then_sweep(
    ledger: Ledger, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeps: list[dt.datetime] = []
    expire_due = holds.expire_due

    def counted(led: Ledger, bind: object = None) -> int:
        sweeps.append(led.clock())
        return expire_due(led, bind)  # type: ignore[arg-type]

    monkeypatch.setattr(holds, "expire_due", counted)
    first, _ = holds.allocate_and_hold(ledger, [order("o1", ("tee", 2))])
    holds.allocate_and_hold(ledger, [order("o2", ("tee", 1))])
    clock.advance(minutes=5)
    holds.release(ledger, first.id)
    assert len(sweeps) == 1  # the first write looked; nothing can be due before o1's TTL
    clock.advance(minutes=6)  # past o2's expiry (10 minutes)
    third, _ = holds.allocate_and_hold(ledger, [order("o3", ("tee", 5))])
    assert len(sweeps) == 2
    assert holds.get(ledger, first.id).status == "released"
    assert [h.quantity for h in third.holds if h.node == "nyc"] == [5]  # o2's unit came back first
    assert check(ledger.engine) == []


def test_a_backorder_whose_inbound_was_promised_meanwhile_holds_nothing_and_names_the_inbound_row(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The solver sees po-1's 6 lamps (a stale snapshot) after a rival took 4 of them: the 3 backordered
    here no longer fit, so neither the inbound nor the tee held in the same allocation is reserved."""
    stale = holds.snapshot(ledger.engine, {"tee", "lamp"})
    holds.allocate_and_hold(ledger, [order("rival", ("lamp", 4))])
    monkeypatch.setattr(holds, "snapshot", lambda *_: stale)
    one_try = dataclasses.replace(ledger, hold_attempts=1)
    with pytest.raises(StockConflict) as error:
        holds.allocate_and_hold(one_try, [order("o1", ("tee", 1), ("lamp", 3))])
    assert error.value.to_dict()["field"] == "stock[chi/lamp]"
    assert reserved(ledger, "nyc", "tee") == 0
    assert [s.reserved for s in stock.inbound_supply(ledger.engine)] == [4]
    assert count(ledger, "allocations") == 1
    assert check(ledger.engine) == []


def test_a_decision_on_a_stock_row_deleted_meanwhile_holds_nothing(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot may list a row that is gone by the time the hold is written: that claim fails too."""
    real = holds.snapshot(ledger.engine, {"tee"})
    ghost = StockLevel(node="lax", sku="tee", on_hand=9)
    monkeypatch.setattr(holds, "snapshot", lambda *_: type(real)(real.nodes, real.skus, [*real.stock, ghost], []))
    one_try = dataclasses.replace(ledger, hold_attempts=1)
    with pytest.raises(StockConflict) as error:
        holds.allocate_and_hold(one_try, [order("o1", ("tee", 2), near="lax")])
    assert error.value.to_dict()["field"] == "stock[lax/tee]"
    assert (count(ledger, "allocations"), count(ledger, "reservations")) == (0, 0)
