"""Tests of the seeded example-problem generator: validity, determinism, references, geography and scarcity."""

from __future__ import annotations

import datetime
import gc
import re
import time
from collections.abc import Callable

import pytest
import zipcodes

from routing_engine.examples import example_problem
from routing_engine.model import KM_PER_MILE, USPS_ZONE_LIMITS_MILES, Problem

FOREIGN = {"CA", "GB", "DE", "FR", "NL"}
is_real_zip: Callable[[str], bool] = zipcodes.is_real  # the package is untyped
CURRENCY_OF = {"US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "NL": "EUR"}


@pytest.fixture(scope="module")
def domestic() -> Problem:
    return example_problem(2000, 12, 150, seed=7)


@pytest.fixture(scope="module")
def cross_border() -> Problem:
    return example_problem(3000, 16, 200, seed=11, cross_border_share=0.25)


def _available_over_demand(problem: Problem) -> float:
    available = sum(level.available for level in problem.stock)
    demand = sum(line.quantity for order in problem.orders for line in order.lines)
    return available / demand


def assert_every_reference_resolves(problem: Problem) -> None:
    node_ids = {node.id for node in problem.nodes}
    sku_ids = {sku.id for sku in problem.skus}
    pickup_nodes = {node.id for node in problem.nodes if node.pickup}
    known_currencies = {problem.currency, *problem.fx}
    assert all(level.node in node_ids and level.sku in sku_ids for level in problem.stock)
    assert all(po.node in node_ids and po.sku in sku_ids for po in problem.inbound)
    assert all(line.sku in sku_ids for order in problem.orders for line in order.lines)
    assert all(order.pickup_node in pickup_nodes for order in problem.orders if order.pickup_node is not None)
    assert all(node_id in node_ids for channel in problem.channels for node_id in channel.nodes)
    assert all(node.tariff in problem.tariffs for node in problem.nodes)
    assert all(node.currency in known_currencies for node in problem.nodes)
    assert all(order.currency in known_currencies for order in problem.orders)
    assert all(tariff.currency in known_currencies for tariff in problem.tariffs.values())
    assert all(rule.currency in known_currencies for rule in problem.countries.values())
    served = {country for node in problem.nodes for country in (node.ships_to or [node.country])}
    assert {order.destination.country for order in problem.orders} <= served


def test_example_problem_round_trips_unchanged_through_json_dump_and_model_validate(
    domestic: Problem, cross_border: Problem
) -> None:
    for problem in (domestic, cross_border):
        assert Problem.model_validate(problem.model_dump(mode="json")) == problem
        assert Problem.model_validate(problem.model_dump()) == problem


def test_same_seed_and_arguments_give_equal_problems() -> None:
    assert example_problem(300, 6, 40, seed=3) == example_problem(300, 6, 40, seed=3)
    assert example_problem(300, 6, 40, seed=3, cross_border_share=0.3) == example_problem(
        300, 6, 40, seed=3, cross_border_share=0.3
    )


def test_different_seeds_give_different_orders_stock_and_nodes() -> None:
    first, second = example_problem(300, 6, 40, seed=1), example_problem(300, 6, 40, seed=2)
    assert first != second
    assert first.orders != second.orders
    assert first.stock != second.stock


@pytest.mark.parametrize(
    ("orders", "nodes", "skus", "share"),
    [(1, 1, 1, 0.0), (0, 3, 5, 0.0), (250, 8, 50, 0.0), (400, 20, 300, 0.0), (250, 8, 50, 0.4), (50, 2, 3, 1.0)],
)
def test_order_node_and_sku_counts_match_the_arguments(orders: int, nodes: int, skus: int, share: float) -> None:
    problem = example_problem(orders, nodes, skus, seed=5, cross_border_share=share)
    assert (len(problem.orders), len(problem.nodes), len(problem.skus)) == (orders, nodes, skus)


def test_node_count_is_honoured_for_every_value_from_1_to_100_domestic_and_cross_border() -> None:
    for nodes in range(1, 101):
        for share in (0.0, 0.2):
            problem = example_problem(20, nodes, 10, seed=nodes, cross_border_share=share)
            assert len(problem.nodes) == nodes
            assert len({node.id for node in problem.nodes}) == nodes
            assert len({(node.lat, node.lon) for node in problem.nodes}) == nodes  # one node per city


def test_ids_of_nodes_skus_orders_lines_and_purchase_orders_are_unique_and_well_formed(cross_border: Problem) -> None:
    lines = [line.id for order in cross_border.orders for line in order.lines]
    for ids in ([n.id for n in cross_border.nodes], [s.id for s in cross_border.skus], lines):
        assert len(ids) == len(set(ids))
    assert len({o.id for o in cross_border.orders}) == len(cross_border.orders)
    assert all(re.fullmatch(r"PO-\d{4,}", po.id) for po in cross_border.inbound)
    assert len({po.id for po in cross_border.inbound}) == len(cross_border.inbound)
    assert len({(level.node, level.sku) for level in cross_border.stock}) == len(cross_border.stock)
    assert all(len({line.sku for line in order.lines}) == len(order.lines) for order in cross_border.orders)


def test_every_reference_resolves_in_domestic_and_cross_border_problems(
    domestic: Problem, cross_border: Problem
) -> None:
    assert_every_reference_resolves(domestic)
    assert_every_reference_resolves(cross_border)


def test_domestic_network_has_only_us_nodes_shipping_to_the_us_and_us_destinations_in_usd(domestic: Problem) -> None:
    assert all(node.country == "US" and node.serves("US") and node.ships_to == ["US"] for node in domestic.nodes)
    assert all(order.destination.country == "US" and order.currency == "USD" for order in domestic.orders)
    assert all(node.tariff == "default" for node in domestic.nodes)
    kinds = [node.kind for node in domestic.nodes]
    assert kinds[:3] == ["warehouse"] * 3
    assert "US" in domestic.countries


def test_domestic_nodes_sit_in_big_us_cities_spread_from_coast_to_coast(domestic: Problem) -> None:
    lons = sorted(node.lon for node in domestic.nodes)
    lats = sorted(node.lat for node in domestic.nodes)
    assert lons[0] < -115
    assert lons[-1] > -82
    assert lats[0] < 33
    assert lats[-1] > 40
    assert domestic.nodes[0].id.endswith("new-york-city")


def test_cross_border_share_gives_foreign_destinations_nodes_local_currencies_rules_and_restrictions(
    cross_border: Problem,
) -> None:
    foreign_orders = [o for o in cross_border.orders if o.destination.country != "US"]
    assert len(foreign_orders) == round(0.25 * len(cross_border.orders))
    assert {o.destination.country for o in foreign_orders} == FOREIGN
    assert all(o.currency == CURRENCY_OF[o.destination.country] for o in cross_border.orders)
    countries = {node.country for node in cross_border.nodes}
    assert {"US", "CA", "GB"} <= countries
    assert countries & {"DE", "FR", "NL"}
    assert all(node.currency == CURRENCY_OF[node.country] for node in cross_border.nodes)
    assert {node.tariff for node in cross_border.nodes} == {"default", "ca", "gb", "eu"}
    assert any(node.ships_to and node.country not in ("US",) and "US" in node.ships_to for node in cross_border.nodes)
    assert any(node.country == "GB" and node.serves("DE") for node in cross_border.nodes)
    assert set(cross_border.countries) == {"US", *FOREIGN}
    assert {"CAD", "GBP", "EUR"} <= set(cross_border.fx)
    assert cross_border.currency == "USD"
    assert any("GB" in sku.restricted_countries for sku in cross_border.skus)


def test_cross_border_with_four_or_more_nodes_has_at_least_one_node_per_region() -> None:
    for nodes in (4, 5, 9, 40, 100):
        problem = example_problem(50, nodes, 10, seed=nodes, cross_border_share=0.05)
        tariffs = [node.tariff for node in problem.nodes]
        assert {"default", "ca", "gb", "eu"} <= set(tariffs)
        assert tariffs.count("default") >= 1


def test_scarcity_orders_available_stock_relative_to_demand_abundant_then_tight_then_short() -> None:
    ratios = {
        scarcity: _available_over_demand(example_problem(3000, 10, 200, seed=4, scarcity=scarcity))
        for scarcity in ("abundant", "tight", "short")
    }
    assert ratios["abundant"] > ratios["tight"] > ratios["short"]
    assert 2.4 < ratios["abundant"] < 3.6
    assert 1.0 < ratios["tight"] < 1.4
    assert 0.6 < ratios["short"] < 0.95


def test_short_stock_brings_more_inbound_purchase_orders_due_3_to_21_days_after_as_of() -> None:
    as_of = datetime.date(2026, 3, 2)
    short = example_problem(2000, 10, 150, seed=4, scarcity="short", as_of=as_of)
    abundant = example_problem(2000, 10, 150, seed=4, scarcity="abundant", as_of=as_of)
    assert len(short.inbound) > len(abundant.inbound) > 0
    assert short.as_of == as_of
    assert all(3 <= (po.eta - as_of).days <= 21 for po in short.inbound)
    stores = {node.id for node in short.nodes if node.kind == "store"}
    assert not any(po.node in stores for po in short.inbound)


def test_destinations_mix_coordinates_real_us_zip_codes_and_unambiguous_city_names(domestic: Problem) -> None:
    destinations = [order.destination for order in domestic.orders]
    by_zip = [d for d in destinations if d.postal_code is not None]
    by_city = [d for d in destinations if d.city is not None]
    by_coordinates = [d for d in destinations if d.lat is not None]
    assert len(by_zip) + len(by_city) + len(by_coordinates) == len(destinations)
    assert 0.02 < len(by_zip) / len(destinations) < 0.08
    assert 0.02 < len(by_city) / len(destinations) < 0.08
    assert all(re.fullmatch(r"\d{5}", d.postal_code or "") and is_real_zip(d.postal_code or "") for d in by_zip)
    assert all(d.lat is None and d.city is None for d in by_zip)
    assert all(18 < (d.lat or 0) < 72 and -170 < (d.lon or 0) < -60 for d in by_coordinates)  # incl. HI, AK


def test_pickup_orders_use_pickup_stores_on_the_store_channel_at_the_store_location(domestic: Problem) -> None:
    stores = {node.id: node for node in domestic.nodes if node.pickup}
    assert stores
    assert all(node.kind == "store" and node.max_packages for node in stores.values())
    pickups = [order for order in domestic.orders if order.pickup_node is not None]
    assert pickups
    for order in pickups:
        store = stores[order.pickup_node or ""]
        assert order.channel == "store"
        assert (order.destination.lat, order.destination.lon) == (store.lat, store.lon)


def test_channels_mix_is_mostly_web_and_marketplace_is_served_by_non_store_nodes_only(domestic: Problem) -> None:
    channels = [order.channel for order in domestic.orders]
    assert set(channels) == {"web", "marketplace", "store"}
    assert 0.6 < channels.count("web") / len(channels) < 0.8
    (marketplace,) = domestic.channels
    assert marketplace.id == "marketplace"
    kinds = {node.id: node.kind for node in domestic.nodes}
    assert marketplace.nodes
    assert all(kinds[node_id] != "store" for node_id in marketplace.nodes)
    assert len(marketplace.nodes) == sum(kind != "store" for kind in kinds.values())
    buffered = [level for level in domestic.stock if level.channel_buffers]
    assert buffered
    assert all(level.channel_buffers == {"marketplace": 2} for level in buffered)


def test_us_tariff_uses_usps_zones_in_km_and_realistic_prices_that_rise_with_zone_and_weight(domestic: Problem) -> None:
    tariff = domestic.tariffs["default"]
    assert tariff.currency == "USD"
    assert tariff.zone_limits_km == pytest.approx([m * KM_PER_MILE for m in USPS_ZONE_LIMITS_MILES], abs=1e-3)
    assert 5.0 < tariff.prices[0][0] < 10.0
    assert 60.0 < tariff.prices[-1][-1] < 130.0
    for row in tariff.prices:
        assert row == sorted(row)
    for band in range(len(tariff.prices[0])):
        column = [row[band] for row in tariff.prices]
        assert column == sorted(column)


def test_skus_orders_and_lines_have_realistic_weights_prices_quantities_and_policy(domestic: Problem) -> None:
    assert all(0.1 <= sku.weight_kg <= 20.0 for sku in domestic.skus)
    lines = [line for order in domestic.orders for line in order.lines]
    assert all(5.0 <= line.unit_price <= 400.0 for line in lines)
    assert all(1 <= len(order.lines) <= 4 for order in domestic.orders)
    assert sum(line.quantity == 1 for line in lines) / len(lines) > 0.7
    assert all(line.splittable or line.quantity > 1 for line in lines)
    assert any(not line.splittable for line in lines)
    assert any(order.ship_complete for order in domestic.orders)
    policy = domestic.policy
    assert (policy.split_cost, policy.max_packages_per_order, policy.unfilled_penalty_per_unit) == (4.0, 3, 60.0)
    assert policy.backorders
    assert policy.allow_partial
    assert not policy.ship_complete
    assert any(level.reserved for level in domestic.stock)
    assert any(level.safety_stock for level in domestic.stock)


def test_invalid_arguments_raise_value_error() -> None:
    for kwargs in ({"nodes": 0}, {"nodes": 101}, {"skus": 0}, {"orders": -1}, {"cross_border_share": 1.5}):
        with pytest.raises(ValueError, match="must"):
            example_problem(**kwargs)


def test_generation_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    example_problem(50, 3, 10)
    assert gc.isenabled()
    gc.disable()
    try:
        example_problem(50, 3, 10)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.slow
def test_hundred_thousand_orders_hundred_nodes_five_thousand_skus_build_in_well_under_thirty_seconds() -> None:
    example_problem(10, 2, 5)  # load the gazetteer and the zip codes once
    start = time.perf_counter()
    problem = example_problem(100_000, 100, 5_000, seed=1, cross_border_share=0.1)
    assert time.perf_counter() - start < 30.0
    assert (len(problem.orders), len(problem.nodes), len(problem.skus)) == (100_000, 100, 5_000)
