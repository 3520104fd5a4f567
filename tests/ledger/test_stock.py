"""Stock in the ledger: seeding, receipts, adjustments, inbound supply, nodes and SKUs."""

from __future__ import annotations

import datetime as dt

import pytest

from routing_engine.errors import DuplicateId, InvalidValue, UnknownNode, UnknownReference, UnknownSku
from routing_engine.ledger import Ledger, check, seed, stock
from routing_engine.ledger.errors import InsufficientStock, UnknownInbound
from routing_engine.ledger.records import StockRecord
from routing_engine.model import Inbound, Node, Sku


def level(ledger: Ledger, node: str, sku: str) -> StockRecord:
    (row,) = stock.levels(ledger.engine, node=node, sku=sku)
    return row


def test_seeding_copies_the_network_stock_and_inbound_once_and_a_second_seed_changes_nothing(ledger: Ledger) -> None:
    assert [(r.node, r.sku, r.on_hand, r.available) for r in stock.levels(ledger.engine, node="nyc")] == [
        (
            "nyc",
            "mug",
            2,
            1,
        ),
        ("nyc", "tee", 5, 5),
    ]
    assert [(i.id, i.quantity, i.reserved, i.status) for i in stock.inbound_supply(ledger.engine)] == [
        ("po-1", 6, 0, "open")
    ]
    assert seed(ledger.engine, ledger.network) is False
    assert level(ledger, "nyc", "tee").on_hand == 5
    assert [n.id for n in stock.nodes(ledger.engine)] == ["chi", "lax", "nyc"]
    assert check(ledger.engine) == []


def test_a_receipt_adds_on_hand_stock_and_creates_the_row_for_a_new_node_sku_pair(ledger: Ledger) -> None:
    assert level(ledger, "nyc", "tee").on_hand == 5
    assert stock.receive(ledger, "nyc", "tee", 4, ref="asn-1").on_hand == 9
    created = stock.receive(ledger, "lax", "lamp", 2)
    assert (created.on_hand, created.reserved, created.available) == (2, 0, 2)
    assert check(ledger.engine) == []


def test_a_receipt_for_an_unknown_node_or_sku_names_it_and_changes_nothing(ledger: Ledger) -> None:
    with pytest.raises(UnknownNode) as node_error:
        stock.receive(ledger, "paris", "tee", 1)
    assert node_error.value.to_dict()["field"] == "node"
    with pytest.raises(UnknownSku) as sku_error:
        stock.receive(ledger, "nyc", "sofa", 1)
    assert sku_error.value.field == "sku"
    with pytest.raises(InvalidValue):
        stock.receive(ledger, "nyc", "tee", 0)
    assert stock.levels(ledger.engine, node="paris") == []
    assert check(ledger.engine) == []


def test_an_adjustment_moves_on_hand_both_ways_but_never_below_zero(ledger: Ledger) -> None:
    assert stock.adjust(ledger, "chi", "tee", -2, reason="damaged").on_hand == 1
    assert stock.adjust(ledger, "chi", "tee", +3, reason="count").on_hand == 4
    with pytest.raises(InsufficientStock) as error:
        stock.adjust(ledger, "chi", "tee", -5)
    assert error.value.to_dict() == {
        "error": "InsufficientStock",
        "field": "delta",
        "message": "on hand is 4; cannot adjust by -5",
    }
    assert level(ledger, "chi", "tee").on_hand == 4
    assert check(ledger.engine) == []


def test_announcing_inbound_makes_it_listed_open_and_a_duplicate_id_is_refused(ledger: Ledger) -> None:
    eta = dt.date(2026, 1, 20)
    record = stock.announce_inbound(ledger, Inbound(id="po-2", node="nyc", sku="mug", quantity=10, eta=eta))
    assert (record.quantity, record.reserved, record.status) == (10, 0, "open")
    with pytest.raises(DuplicateId):
        stock.announce_inbound(ledger, Inbound(id="po-2", node="lax", sku="mug", quantity=1, eta=eta))
    with pytest.raises(UnknownNode):
        stock.announce_inbound(ledger, Inbound(id="po-3", node="paris", sku="mug", quantity=1, eta=eta))
    assert [i.id for i in stock.inbound_supply(ledger.engine, status="open")] == ["po-1", "po-2"]
    assert check(ledger.engine) == []


def test_receiving_inbound_moves_its_units_into_stock_once(ledger: Ledger) -> None:
    assert level(ledger, "chi", "lamp").on_hand == 0
    received = stock.receive_inbound(ledger, "po-1")
    assert (received.status, received.quantity) == ("received", 0)
    assert level(ledger, "chi", "lamp").on_hand == 6
    assert stock.receive_inbound(ledger, "po-1").status == "received"
    assert level(ledger, "chi", "lamp").on_hand == 6
    with pytest.raises(UnknownInbound):
        stock.receive_inbound(ledger, "po-404")
    assert check(ledger.engine) == []


def test_nodes_and_skus_can_be_added_or_replaced_but_a_node_needs_a_known_tariff(ledger: Ledger) -> None:
    stock.put_node(ledger, Node(id="sea", country="US", lat=47.6, lon=-122.3, tariff="ground"))
    stock.put_node(ledger, Node(id="sea", country="US", lat=47.6, lon=-122.3, tariff="ground", handling_per_unit=1))
    assert [n.handling_per_unit for n in stock.nodes(ledger.engine) if n.id == "sea"] == [1]
    with pytest.raises(UnknownReference) as error:
        stock.put_node(ledger, Node(id="mia", country="US", lat=25.8, lon=-80.2, tariff="air"))
    assert error.value.field == "tariff"
    stock.put_sku(ledger, Sku(id="sofa", weight_kg=40))
    assert "sofa" in {s.id for s in stock.skus(ledger.engine)}
    assert stock.receive(ledger, "sea", "sofa", 1).on_hand == 1
