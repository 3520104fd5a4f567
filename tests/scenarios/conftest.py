"""Fixtures of the scenario suite: `tiny_problem`, a hand-made network small enough to read at a glance.

Two warehouses (New York, Los Angeles) and a Chicago store, two SKUs, a London DC for GB orders, three
orders (New York, Boston, London), one PO, one rate card with 8 zones, a GB import rule and a GBP rate.
"""

from __future__ import annotations

import datetime as dt

import pytest

from routing_engine.model import KM_PER_MILE, USPS_ZONE_LIMITS_MILES, Problem


def _card(currency: str, base: float) -> dict[str, object]:
    zones = [round(m * KM_PER_MILE, 3) for m in USPS_ZONE_LIMITS_MILES]
    return {
        "currency": currency,
        "zone_limits_km": zones,
        "weight_limits_kg": [1.0, 5.0],
        "prices": [[base + z, base + z + 2, base + z + 5] for z in range(len(zones) + 1)],
    }


@pytest.fixture(scope="session")
def tiny_problem() -> Problem:
    return Problem.model_validate(
        {
            "as_of": dt.date(2026, 11, 30),
            "currency": "USD",
            "fx": {"GBP": 1.25},
            "nodes": [
                {"id": "DC-NY", "country": "US", "lat": 40.71, "lon": -74.01, "handling_per_package": 1.0},
                {"id": "DC-LA", "country": "US", "lat": 34.05, "lon": -118.24, "handling_per_package": 1.0},
                {"id": "ST-CHI", "kind": "store", "country": "US", "lat": 41.85, "lon": -87.65, "max_packages": 2},
                {"id": "DC-LON", "country": "GB", "lat": 51.51, "lon": -0.13, "currency": "GBP", "tariff": "gb"},
            ],
            "skus": [{"id": "TEE", "weight_kg": 0.3}, {"id": "BOOT", "weight_kg": 1.8}],
            "stock": [
                {"node": "DC-NY", "sku": "TEE", "on_hand": 10, "reserved": 2},
                {"node": "DC-NY", "sku": "BOOT", "on_hand": 3},
                {"node": "DC-LA", "sku": "TEE", "on_hand": 20},
                {"node": "DC-LA", "sku": "BOOT", "on_hand": 6, "safety_stock": 1},
                {"node": "ST-CHI", "sku": "TEE", "on_hand": 4},
                {"node": "DC-LON", "sku": "TEE", "on_hand": 5},
            ],
            "inbound": [{"id": "PO-1", "node": "DC-NY", "sku": "BOOT", "quantity": 12, "eta": dt.date(2026, 12, 3)}],
            "orders": [
                {
                    "id": "NY-1",
                    "currency": "USD",
                    "destination": {"country": "US", "lat": 40.73, "lon": -73.99},
                    "lines": [{"id": "NY-1-1", "sku": "TEE", "quantity": 2, "unit_price": 20.0}],
                },
                {
                    "id": "BOS-1",
                    "channel": "marketplace",
                    "currency": "USD",
                    "destination": {"country": "US", "lat": 42.36, "lon": -71.06},
                    "lines": [
                        {"id": "BOS-1-1", "sku": "TEE", "quantity": 1, "unit_price": 20.0},
                        {"id": "BOS-1-2", "sku": "BOOT", "quantity": 1, "unit_price": 120.0},
                    ],
                },
                {
                    "id": "LON-1",
                    "currency": "GBP",
                    "destination": {"country": "GB", "lat": 51.5, "lon": -0.1},
                    "lines": [{"id": "LON-1-1", "sku": "TEE", "quantity": 3, "unit_price": 16.0}],
                },
            ],
            "channels": [{"id": "marketplace", "nodes": ["DC-NY", "DC-LA"]}],
            "policy": {"split_cost": 4.0, "backorder_cost_per_unit_day": 0.5},
            "tariffs": {"default": _card("USD", 6.0), "gb": _card("GBP", 3.0)},
            "countries": {"GB": {"currency": "GBP", "de_minimis": 135.0, "duty_rate": 0.2, "clearance_fee": 8.0}},
        }
    )
