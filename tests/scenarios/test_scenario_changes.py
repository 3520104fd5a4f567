"""Each what-if change does what it says on the tiny problem, leaves its input untouched, and names a bad
reference (unknown change kind, node, SKU, tariff, currency, country) in a data-carrying error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from routing_engine.errors import InvalidValue, MissingFxRate, UnknownNode, UnknownReference, UnknownSku
from routing_engine.model import Problem
from routing_engine.scenarios import REGISTRY, UnknownChangeKind, apply_changes, parse_change


def applied(problem: Problem, *changes: dict[str, Any]) -> Problem:
    """Apply the changes and check that the input problem is unchanged (purity)."""
    before = problem.model_dump_json()
    result = apply_changes(problem, [parse_change(c, f"changes[{i}]") for i, c in enumerate(changes)])
    assert problem.model_dump_json() == before
    assert result is not problem
    return Problem.model_validate(result.model_dump())  # the changed problem is still a valid problem


def stock_of(problem: Problem, node: str, sku: str) -> int:
    return next(s.available for s in problem.stock if s.node == node and s.sku == sku)


def test_registry_covers_every_change_kind() -> None:
    assert set(REGISTRY) == {
        "close_node",
        "open_node",
        "scale_stock",
        "set_stock",
        "set_capacity",
        "add_inbound",
        "rate_card",
        "handling",
        "policy",
        "fx_shock",
        "duty",
        "demand_surge",
    }


def test_close_node_for_good_removes_its_stock_and_inbound_and_takes_it_out_of_every_channel(
    tiny_problem: Problem,
) -> None:
    changed = applied(tiny_problem, {"kind": "close_node", "node": "DC-NY"})
    assert not [s for s in changed.stock if s.node == "DC-NY"]
    assert not [i for i in changed.inbound if i.node == "DC-NY"]
    assert changed.channels[0].nodes == ["DC-LA"]
    assert [n.id for n in changed.nodes] == [n.id for n in tiny_problem.nodes]  # the node stays, empty


def test_close_node_for_a_week_turns_its_available_stock_into_supply_on_reopening_and_delays_its_pos(
    tiny_problem: Problem,
) -> None:
    changed = applied(tiny_problem, {"kind": "close_node", "node": "DC-NY", "days": 7})
    reopen = tiny_problem.as_of + dt.timedelta(days=7)
    assert not [s for s in changed.stock if s.node == "DC-NY"]
    at_ny = {(i.sku, i.quantity, i.eta) for i in changed.inbound if i.node == "DC-NY"}
    assert at_ny == {("TEE", 8, reopen), ("BOOT", 3, reopen), ("BOOT", 12, reopen)}  # 10 on hand - 2 reserved
    assert changed.channels == tiny_problem.channels


def test_open_node_adds_the_node_with_its_stock_and_joins_the_listed_channels(tiny_problem: Problem) -> None:
    node = {"id": "DC-DAL", "country": "US", "lat": 32.78, "lon": -96.8}
    changed = applied(
        tiny_problem, {"kind": "open_node", "node": node, "stock": {"BOOT": 9}, "channels": ["marketplace"]}
    )
    assert changed.nodes[-1].id == "DC-DAL"
    assert stock_of(changed, "DC-DAL", "BOOT") == 9
    assert changed.channels[0].nodes == ["DC-NY", "DC-LA", "DC-DAL"]


def test_open_node_with_an_existing_id_or_an_unknown_sku_is_an_error_naming_it(tiny_problem: Problem) -> None:
    node = {"id": "DC-NY", "country": "US", "lat": 40.0, "lon": -74.0}
    with pytest.raises(InvalidValue, match="DC-NY"):
        applied(tiny_problem, {"kind": "open_node", "node": node})
    node = {"id": "DC-NEW", "country": "US", "lat": 40.0, "lon": -74.0}
    with pytest.raises(UnknownSku) as caught:
        applied(tiny_problem, {"kind": "open_node", "node": node, "stock": {"HAT": 1}})
    assert caught.value.sku == "HAT"


def test_scale_stock_multiplies_available_stock_of_one_node_and_one_sku_only(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "scale_stock", "node": "DC-NY", "sku": "TEE", "factor": 0.5})
    assert stock_of(changed, "DC-NY", "TEE") == 4  # 8 available -> 4; the 2 reserved stay reserved
    assert next(s for s in changed.stock if s.node == "DC-NY" and s.sku == "TEE").reserved == 2
    assert stock_of(changed, "DC-NY", "BOOT") == 3
    assert stock_of(changed, "DC-LA", "TEE") == 20


def test_scale_stock_without_a_node_scales_every_node_and_rounds_down(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "scale_stock", "sku": "BOOT", "factor": 1.5})
    assert stock_of(changed, "DC-NY", "BOOT") == 4  # floor(3 * 1.5)
    assert stock_of(changed, "DC-LA", "BOOT") == 7  # floor(5 * 1.5)
    assert stock_of(changed, "DC-LA", "TEE") == 20


def test_set_stock_sets_the_available_units_of_one_sku_at_a_node_keeping_reserved_and_safety_stock(
    tiny_problem: Problem,
) -> None:
    changed = applied(tiny_problem, {"kind": "set_stock", "node": "DC-NY", "sku": "TEE", "available": 0})
    level = next(s for s in changed.stock if s.node == "DC-NY" and s.sku == "TEE")
    assert (level.on_hand, level.reserved, level.available) == (2, 2, 0)  # 10 on hand, 2 reserved before
    assert stock_of(changed, "DC-NY", "BOOT") == 3
    assert stock_of(changed, "DC-LA", "TEE") == 20


def test_set_stock_without_a_sku_sets_every_sku_the_node_stocks(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "set_stock", "node": "DC-LA", "available": 7})
    assert stock_of(changed, "DC-LA", "TEE") == 7
    assert stock_of(changed, "DC-LA", "BOOT") == 7
    assert next(s for s in changed.stock if s.node == "DC-LA" and s.sku == "BOOT").safety_stock == 1
    assert stock_of(changed, "DC-NY", "TEE") == 8


def test_set_stock_of_a_sku_the_node_did_not_stock_adds_a_stock_level(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "set_stock", "node": "ST-CHI", "sku": "BOOT", "available": 4})
    assert stock_of(changed, "ST-CHI", "BOOT") == 4
    assert len(changed.stock) == len(tiny_problem.stock) + 1


def test_set_capacity_caps_every_store_and_lets_them_serve_the_marketplace(tiny_problem: Problem) -> None:
    changed = applied(
        tiny_problem, {"kind": "set_capacity", "node_kind": "store", "max_packages": 40, "channels": ["marketplace"]}
    )
    store = next(n for n in changed.nodes if n.id == "ST-CHI")
    assert (store.max_packages, store.max_units) == (40, None)
    assert "ST-CHI" in changed.channels[0].nodes
    assert next(n for n in changed.nodes if n.id == "DC-NY").max_packages is None


def test_set_capacity_with_an_explicit_null_lifts_the_cap(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "set_capacity", "node": "ST-CHI", "max_packages": None})
    assert next(n for n in changed.nodes if n.id == "ST-CHI").max_packages is None


def test_add_inbound_adds_a_po_arriving_days_after_as_of(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "add_inbound", "node": "DC-LA", "sku": "BOOT", "quantity": 30, "days": 4})
    po = changed.inbound[-1]
    assert (po.node, po.sku, po.quantity, po.eta) == ("DC-LA", "BOOT", 30, dt.date(2026, 12, 4))
    assert len(changed.inbound) == len(tiny_problem.inbound) + 1


def test_rate_card_raises_only_zones_7_and_8_by_12_percent(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "rate_card", "tariff": "default", "factor": 1.12, "zones": [7, 8]})
    before, after = tiny_problem.tariffs["default"].prices, changed.tariffs["default"].prices
    for zone, (row_before, row_after) in enumerate(zip(before, after, strict=True), start=1):
        factor = 1.12 if zone in (7, 8) else 1.0
        assert row_after == pytest.approx([p * factor for p in row_before])
    assert changed.tariffs["gb"] == tiny_problem.tariffs["gb"]


def test_rate_card_for_an_unknown_tariff_or_zone_is_an_error_naming_it(tiny_problem: Problem) -> None:
    with pytest.raises(UnknownReference, match="'fedex'"):
        applied(tiny_problem, {"kind": "rate_card", "tariff": "fedex", "factor": 1.1})
    with pytest.raises(InvalidValue, match="zone 12"):
        applied(tiny_problem, {"kind": "rate_card", "tariff": "default", "factor": 1.1, "zones": [12]})


def test_handling_scales_the_handling_costs_of_one_node(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "handling", "node": "DC-LA", "factor": 1.5, "per_unit": 0.2})
    la = next(n for n in changed.nodes if n.id == "DC-LA")
    assert (la.handling_per_package, la.handling_per_unit) == pytest.approx((1.5, 0.3))
    assert next(n for n in changed.nodes if n.id == "DC-NY").handling_per_package == 1.0


def test_policy_sets_only_the_fields_given(tiny_problem: Problem) -> None:
    changed = applied(
        tiny_problem, {"kind": "policy", "split_cost": 8.0, "backorders": False, "max_packages_per_order": 2}
    )
    assert (changed.policy.split_cost, changed.policy.backorders, changed.policy.max_packages_per_order) == (
        8.0,
        False,
        2,
    )
    assert changed.policy.backorder_cost_per_unit_day == tiny_problem.policy.backorder_cost_per_unit_day


def test_fx_shock_multiplies_the_rate_of_the_currency(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "fx_shock", "currency": "GBP", "factor": 0.9})
    assert changed.fx["GBP"] == pytest.approx(1.125)


def test_fx_shock_on_a_currency_missing_from_the_fx_table_names_it(tiny_problem: Problem) -> None:
    with pytest.raises(MissingFxRate) as caught:
        applied(tiny_problem, {"kind": "fx_shock", "currency": "JPY", "factor": 0.9})
    assert caught.value.currency == "JPY"


def test_duty_sets_the_uk_de_minimis_to_zero_and_keeps_the_rest_of_the_rule(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "duty", "country": "GB", "de_minimis": 0})
    rule = changed.countries["GB"]
    assert (rule.de_minimis, rule.duty_rate, rule.clearance_fee) == (0.0, 0.2, 8.0)


def test_duty_for_a_country_without_a_rule_needs_a_currency(tiny_problem: Problem) -> None:
    with pytest.raises(UnknownReference, match="'CA'"):
        applied(tiny_problem, {"kind": "duty", "country": "CA", "duty_rate": 0.1})
    changed = applied(tiny_problem, {"kind": "duty", "country": "CA", "duty_rate": 0.1, "currency": "CAD"})
    assert changed.countries["CA"].duty_rate == 0.1


def test_demand_surge_replicates_the_orders_of_the_northeast_three_times(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "demand_surge", "factor": 3, "region": "us-northeast"})
    ids = [o.id for o in changed.orders]
    assert ids == ["NY-1", "BOS-1", "LON-1", "NY-1~2", "NY-1~3", "BOS-1~2", "BOS-1~3"]
    assert changed.orders[-1].lines[1].id == "BOS-1-2~3"


def test_demand_surge_by_destination_state_copies_only_the_orders_to_those_states(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "demand_surge", "factor": 2, "states": ["MA", "CA"]})
    assert [o.id for o in changed.orders] == ["NY-1", "BOS-1", "LON-1", "BOS-1~2"]


def test_demand_surge_by_region_and_state_takes_the_states_of_the_region_given(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "demand_surge", "factor": 2, "region": "us-northeast", "states": ["NY"]})
    assert [o.id for o in changed.orders] == ["NY-1", "BOS-1", "LON-1", "NY-1~2"]
    unchanged = applied(tiny_problem, {"kind": "demand_surge", "factor": 2, "region": "us-west"})
    assert unchanged.orders == tiny_problem.orders


@pytest.mark.parametrize(
    ("change", "field", "named"),
    [
        ({"kind": "demand_surge", "factor": 2, "states": ["NY", "XX"]}, "changes[0].states", "'XX'"),
        ({"kind": "demand_surge", "factor": 2, "region": "us-north"}, "changes[0].region", "'us-north'"),
    ],
)
def test_demand_surge_with_an_unknown_state_or_region_names_it(change: dict[str, Any], field: str, named: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_change(change, "changes[0]")
    assert caught.value.field == field
    assert named in caught.value.message


def test_demand_surge_by_channel_multiplies_line_quantities_rounding_up(tiny_problem: Problem) -> None:
    changed = applied(
        tiny_problem, {"kind": "demand_surge", "factor": 1.5, "mode": "quantity", "channels": ["marketplace"]}
    )
    assert [ln.quantity for ln in changed.orders[1].lines] == [2, 2]
    assert changed.orders[0] == tiny_problem.orders[0]


def test_demand_surge_by_country_with_a_fractional_factor_copies_a_share_of_the_orders(tiny_problem: Problem) -> None:
    changed = applied(tiny_problem, {"kind": "demand_surge", "factor": 1.5, "countries": ["US"]})
    assert [o.id for o in changed.orders] == ["NY-1", "BOS-1", "LON-1", "NY-1~2"]  # half of 2 US orders


def test_an_unknown_change_kind_is_an_error_naming_the_kind_and_where_it_is() -> None:
    with pytest.raises(UnknownChangeKind) as caught:
        parse_change({"kind": "teleport", "node": "DC-NY"}, "variants[x].changes[0]")
    assert caught.value.id == "teleport"
    assert caught.value.field == "variants[x].changes[0].kind"
    assert "teleport" in str(caught.value)
    assert "close_node" in str(caught.value)


def test_a_change_with_a_bad_field_is_an_error_naming_the_field() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_change({"kind": "policy", "split_cots": 3}, "changes[0]")
    assert caught.value.field == "changes[0].split_cots"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "close_node", "node": "DC-RENO"},
        {"kind": "scale_stock", "node": "DC-RENO", "factor": 2},
        {"kind": "set_capacity", "node": "DC-RENO", "max_packages": 1},
        {"kind": "add_inbound", "node": "DC-RENO", "sku": "TEE", "quantity": 1},
        {"kind": "handling", "node": "DC-RENO", "factor": 2},
        {"kind": "set_stock", "node": "DC-RENO", "available": 0},
    ],
)
def test_a_change_on_a_missing_node_is_an_unknown_node_error_naming_it(
    tiny_problem: Problem, change: dict[str, Any]
) -> None:
    with pytest.raises(UnknownNode) as caught:
        applied(tiny_problem, change)
    assert caught.value.node == "DC-RENO"
    assert caught.value.field == "changes[0].node"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "scale_stock", "sku": "HAT", "factor": 2},
        {"kind": "add_inbound", "node": "DC-NY", "sku": "HAT", "quantity": 1},
        {"kind": "set_stock", "node": "DC-NY", "sku": "HAT", "available": 3},
    ],
)
def test_a_change_on_a_missing_sku_is_an_unknown_sku_error_naming_it(
    tiny_problem: Problem, change: dict[str, Any]
) -> None:
    with pytest.raises(UnknownSku) as caught:
        applied(tiny_problem, change)
    assert caught.value.sku == "HAT"
