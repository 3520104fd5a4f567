"""Destination regions: the US state of a destination by ZIP code, coordinates or city, and the region keys
and flows a scenario run reports for its flow map (tiny problem: New York, Boston and London orders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing_engine.model import Destination, Problem
from routing_engine.scenarios import parse_scenario, run_one
from routing_engine.scenarios.regions import REGION_STATES, US_STATES, region_key, us_state


@pytest.mark.parametrize(
    ("destination", "state"),
    [
        (Destination(country="US", postal_code="02139"), "MA"),
        (Destination(country="US", postal_code="97201-1234"), "OR"),
        (Destination(country="US", lat=40.73, lon=-73.99), "NY"),
        (Destination(country="US", lat=29.76, lon=-95.37), "TX"),
        (Destination(country="US", city="Denver"), "CO"),
        (Destination(country="GB", lat=51.5, lon=-0.1), None),
    ],
)
def test_us_state_of_a_destination_by_zip_code_coordinates_or_city(destination: Destination, state: str | None) -> None:
    assert us_state(destination, "destination") == state


def test_the_named_regions_partition_the_fifty_states_and_dc() -> None:
    assert len(US_STATES) == 51
    assert sum(len(states) for states in REGION_STATES.values()) == 51


def test_region_keys_are_states_at_home_and_countries_abroad() -> None:
    assert region_key(Destination(country="US", postal_code="10001"), "d") == "US-NY"
    assert region_key(Destination(country="DE", city="Berlin"), "d") == "DE"


def test_a_run_reports_its_flows_from_nodes_to_destination_regions_summing_to_the_units_shipped(
    tmp_path: Path, tiny_problem: Problem
) -> None:
    (tmp_path / "tiny.json").write_text(tiny_problem.model_dump_json())
    spec = parse_scenario({"name": "t", "base": {"problem": "tiny.json"}, "time_limit_s": 5}, tmp_path).runs[0]
    outcome = run_one(spec)
    assert {f.region for f in outcome.flows} == {"US-NY", "US-MA", "GB"}
    shipped = sum(n.units for n in outcome.nodes)
    assert sum(f.units for f in outcome.flows) == shipped > 0
    london = [f for f in outcome.flows if f.region == "GB"]
    assert [(f.node, f.lat, f.lon) for f in london] == [("DC-LON", 51.5, -0.1)]
    assert (london[0].node_lat, london[0].node_lon) == (51.51, -0.13)
