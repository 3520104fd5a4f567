"""Bad input is refused with an error naming the field or ID at fault, and `allocate` produces nothing.

Schema errors (types, ranges, unknown fields, shapes) are pydantic `ValidationError`s raised while the
problem is built; errors that need the whole problem (references, duplicates, fx, geography) are
`ProblemError`s raised by `allocate` before anything is solved.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from routing_engine import AllocateOptions, Problem, ProblemError, allocate
from routing_engine.errors import (
    DuplicateId,
    InvalidValue,
    MissingFxRate,
    UnknownNode,
    UnknownReference,
    UnknownSku,
    UnresolvableDestination,
)

OPTIONS = AllocateOptions(solver="mip", time_limit_s=10)

Data = dict[str, Any]


def valid() -> Data:
    """A small valid problem: two US nodes (N2 also a pickup store), SKUs A and B, one web order."""
    return {
        "as_of": "2025-03-03",
        "currency": "USD",
        "fx": {"CAD": 0.75},
        "nodes": [
            {"id": "N1", "country": "US", "lat": 0.0, "lon": 0.0},
            {"id": "N2", "country": "US", "lat": 0.0, "lon": 1.0, "kind": "store", "pickup": True},
        ],
        "skus": [{"id": "A", "weight_kg": 1.0}, {"id": "B", "weight_kg": 2.0}],
        "stock": [{"node": "N1", "sku": "A", "on_hand": 5}, {"node": "N2", "sku": "B", "on_hand": 5}],
        "inbound": [{"id": "PO-1", "node": "N1", "sku": "B", "quantity": 3, "eta": "2025-03-06"}],
        "orders": [
            {
                "id": "O1",
                "currency": "USD",
                "destination": {"country": "US", "lat": 0.0, "lon": 0.5},
                "lines": [
                    {"id": "L1", "sku": "A", "quantity": 1, "unit_price": 10.0},
                    {"id": "L2", "sku": "B", "quantity": 2, "unit_price": 5.0},
                ],
            }
        ],
        "channels": [{"id": "marketplace", "nodes": ["N1"]}],
        "tariffs": {"default": {"currency": "USD", "zone_limits_km": [150.0], "prices": [[5.0], [9.0]]}},
        "countries": {"CA": {"currency": "CAD", "de_minimis": 150.0, "duty_rate": 0.1}},
    }


def mutated(change: Callable[[Data], Any]) -> Data:
    data = copy.deepcopy(valid())
    change(data)
    return data


def test_the_base_problem_is_valid_and_allocates() -> None:
    result = allocate(Problem.model_validate(valid()), OPTIONS)
    assert result.solver.status == "optimal"
    assert result.kpis.units_unfilled == 0


# ------------------------------------------------------------------------------- reference errors


def _set(path: str, value: Any) -> Callable[[Data], None]:
    """A change that sets data[k1][k2]... = value; integer keys index lists."""

    def change(data: Data) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        target = data
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return change


def _append(path: str, item: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        target = data
        for k in path.split("."):
            target = target[int(k) if k.isdigit() else k]
        target.append(copy.deepcopy(item))

    return change


PROBLEM_ERRORS = [
    # (id, change, error type, field, attributes the error carries)
    ("unknown-sku-on-an-order-line", _set("orders.0.lines.1.sku", "NOPE"),
     UnknownSku, "orders[O1].lines[L2].sku", {"sku": "NOPE", "id": "NOPE", "kind": "sku"}),
    ("unknown-sku-in-stock", _set("stock.0.sku", "NOPE"),
     UnknownSku, "stock[N1/NOPE].sku", {"sku": "NOPE"}),
    ("unknown-sku-in-inbound", _set("inbound.0.sku", "NOPE"),
     UnknownSku, "inbound[PO-1].sku", {"sku": "NOPE"}),
    ("unknown-node-in-stock", _set("stock.1.node", "NX"),
     UnknownNode, "stock[NX/B].node", {"node": "NX", "kind": "node"}),
    ("unknown-node-in-inbound", _set("inbound.0.node", "NX"),
     UnknownNode, "inbound[PO-1].node", {"node": "NX"}),
    ("unknown-pickup-node", _set("orders.0.pickup_node", "NX"),
     UnknownNode, "orders[O1].pickup_node", {"node": "NX"}),
    ("unknown-node-in-a-channel", _set("channels.0.nodes", ["N1", "NX"]),
     UnknownNode, "channels[marketplace].nodes", {"node": "NX"}),
    ("unknown-tariff-on-a-node", _set("nodes.1.tariff", "express"),
     UnknownReference, "nodes[N2].tariff", {"kind": "tariff", "id": "express"}),
    ("pickup-node-that-does-not-accept-pickups", _set("orders.0.pickup_node", "N1"),
     InvalidValue, "orders[O1].pickup_node", {}),
    ("duplicate-node-id", _append("nodes", {"id": "N1", "country": "US", "lat": 1.0, "lon": 1.0}),
     DuplicateId, "nodes[N1]", {"kind": "node", "id": "N1"}),
    ("duplicate-sku-id", _append("skus", {"id": "A", "weight_kg": 3.0}),
     DuplicateId, "skus[A]", {"kind": "sku", "id": "A"}),
    ("duplicate-order-id", lambda d: d["orders"].append(copy.deepcopy(d["orders"][0])),
     DuplicateId, "orders[O1]", {"kind": "order", "id": "O1"}),
    ("duplicate-inbound-id", _append("inbound", {"id": "PO-1", "node": "N2", "sku": "A", "quantity": 1, "eta": "2025-03-09"}),
     DuplicateId, "inbounds[PO-1]", {"kind": "inbound", "id": "PO-1"}),
    ("duplicate-channel-id", _append("channels", {"id": "marketplace", "nodes": ["N2"]}),
     DuplicateId, "channels[marketplace]", {"kind": "channel", "id": "marketplace"}),
    ("duplicate-stock-record", _append("stock", {"node": "N1", "sku": "A", "on_hand": 1}),
     DuplicateId, "stocks[N1/A]", {"kind": "stock", "id": "N1/A"}),
    ("duplicate-line-id-within-an-order", _append("orders.0.lines", {"id": "L1", "sku": "B", "quantity": 1, "unit_price": 1.0}),
     DuplicateId, "orders[O1].lines[L1]", {"id": "L1"}),
    ("order-currency-missing-from-fx", _set("orders.0.currency", "EUR"),
     MissingFxRate, "orders[O1].currency", {"currency": "EUR"}),
    ("tariff-currency-missing-from-fx", _set("tariffs.default.currency", "GBP"),
     MissingFxRate, "tariffs[default].currency", {"currency": "GBP"}),
    ("node-handling-currency-missing-from-fx", _set("nodes.0.currency", "EUR"),
     MissingFxRate, "nodes[N1].currency", {"currency": "EUR"}),
    ("country-rule-currency-missing-from-fx", _set("countries.CA.currency", "JPY"),
     MissingFxRate, "countries[CA].currency", {"currency": "JPY"}),
    ("unknown-us-postal-code", _set("orders.0.destination", {"country": "US", "postal_code": "00000"}),
     UnresolvableDestination, "orders[O1].destination", {}),
    ("malformed-us-postal-code", _set("orders.0.destination", {"country": "US", "postal_code": "ABCDE"}),
     UnresolvableDestination, "orders[O1].destination", {}),
    ("unknown-city", _set("orders.0.destination", {"country": "CA", "city": "Nowhereville"}),
     UnresolvableDestination, "orders[O1].destination", {}),
]  # fmt: skip


@pytest.mark.parametrize(("change", "error", "field", "attrs"), [pytest.param(*c[1:], id=c[0]) for c in PROBLEM_ERRORS])
@pytest.mark.parametrize("solver", ["mip", "shopify-default"])
def test_allocate_raises_a_problem_error_naming_the_field_and_id_at_fault(
    change: Callable[[Data], Any], error: type[ProblemError], field: str, attrs: dict[str, str], solver: str
) -> None:
    problem = Problem.model_validate(mutated(change))  # well-formed: the schema accepts it
    result = None
    with pytest.raises(error) as info:
        result = allocate(problem, AllocateOptions(solver=solver, time_limit_s=10))  # type: ignore[arg-type]
    assert result is None  # raised, nothing produced
    err = info.value
    assert isinstance(err, ProblemError)
    assert err.field == field
    assert str(err).startswith(f"{field}: ")
    for name, value in attrs.items():
        assert getattr(err, name) == value, name
    assert err.to_dict() == {"error": error.__name__, "field": field, "message": err.message}


def test_missing_fx_rate_message_names_the_currency_and_where_it_is_used() -> None:
    problem = Problem.model_validate(mutated(_set("orders.0.currency", "EUR")))
    with pytest.raises(MissingFxRate, match=r"orders\[O1\]\.currency: currency 'EUR' is missing from the fx table"):
        allocate(problem, OPTIONS)


def test_unresolvable_postal_code_message_names_the_order_and_the_code() -> None:
    problem = Problem.model_validate(mutated(_set("orders.0.destination", {"country": "US", "postal_code": "00000"})))
    with pytest.raises(UnresolvableDestination, match=r"orders\[O1\]\.destination: .*'00000'") as info:
        allocate(problem, OPTIONS)
    assert "00000" in info.value.detail


def test_unresolvable_postal_code_and_city_are_both_named() -> None:
    dest = {"country": "US", "postal_code": "00000", "city": "Nowhereville"}
    problem = Problem.model_validate(mutated(_set("orders.0.destination", dest)))
    with pytest.raises(UnresolvableDestination) as info:
        allocate(problem, OPTIONS)
    assert "00000" in info.value.detail
    assert "Nowhereville" in info.value.detail


def test_unknown_sku_is_reported_even_when_the_order_is_otherwise_servable() -> None:
    # The bad line is not silently dropped or left unfilled: the whole call fails.
    data = mutated(_append("orders.0.lines", {"id": "L9", "sku": "GHOST", "quantity": 1, "unit_price": 1.0}))
    with pytest.raises(UnknownSku) as info:
        allocate(Problem.model_validate(data), OPTIONS)
    assert info.value.field == "orders[O1].lines[L9].sku"
    assert info.value.sku == "GHOST"


# -------------------------------------------------------------------------------- schema errors


SCHEMA_ERRORS = [
    # (id, change, location of the error, text in the message)
    ("negative-line-quantity", _set("orders.0.lines.0.quantity", -1),
     ("orders", 0, "lines", 0, "quantity"), "greater than or equal to 1"),
    ("zero-line-quantity", _set("orders.0.lines.0.quantity", 0),
     ("orders", 0, "lines", 0, "quantity"), "greater than or equal to 1"),
    ("zero-inbound-quantity", _set("inbound.0.quantity", 0),
     ("inbound", 0, "quantity"), "greater than or equal to 1"),
    ("negative-on-hand", _set("stock.0.on_hand", -3),
     ("stock", 0, "on_hand"), "greater than or equal to 0"),
    ("negative-unit-price", _set("orders.0.lines.0.unit_price", -1.0),
     ("orders", 0, "lines", 0, "unit_price"), "greater than or equal to 0"),
    ("zero-sku-weight", _set("skus.0.weight_kg", 0.0),
     ("skus", 0, "weight_kg"), "greater than 0"),
    ("zero-fx-rate", _set("fx", {"CAD": 0.0}),
     ("fx", "CAD"), "greater than 0"),
    ("unknown-field-on-a-line", _set("orders.0.lines.0.qty", 2),
     ("orders", 0, "lines", 0, "qty"), "Extra inputs are not permitted"),
    ("unknown-field-on-the-problem", _set("polcy", {"split_cost": 1.0}),
     ("polcy",), "Extra inputs are not permitted"),
    ("unknown-field-in-the-policy", _set("policy", {"split_costs": 1.0}),
     ("policy", "split_costs"), "Extra inputs are not permitted"),
    ("lowercase-currency-code", _set("currency", "usd"),
     ("currency",), "should match pattern"),
    ("lat-without-lon", _set("orders.0.destination", {"country": "US", "lat": 40.0}),
     ("orders", 0, "destination"), "lat and lon go together"),
    ("destination-without-any-location", _set("orders.0.destination", {"country": "US"}),
     ("orders", 0, "destination"), "give lat/lon, postal_code or city"),
    ("latitude-out-of-range", _set("nodes.0.lat", 91.0),
     ("nodes", 0, "lat"), "less than or equal to 90"),
    ("order-without-lines", _set("orders.0.lines", []),
     ("orders", 0, "lines"), "at least 1 item"),
    ("tariff-prices-with-too-few-zones", _set("tariffs.default.prices", [[5.0]]),
     ("tariffs", "default"), "prices must be 2 zones x 1 weight bands"),
    ("tariff-prices-with-too-many-bands", _set("tariffs.default.prices", [[5.0, 6.0], [9.0, 10.0]]),
     ("tariffs", "default"), "prices must be 2 zones x 1 weight bands"),
    ("tariff-prices-decreasing-with-weight",
     _set("tariffs.default", {"currency": "USD", "weight_limits_kg": [1.0], "prices": [[8.0, 6.0]]}),
     ("tariffs", "default"), "prices must not decrease with weight"),
    ("tariff-zone-limits-not-increasing",
     _set("tariffs.default", {"currency": "USD", "zone_limits_km": [300.0, 100.0], "prices": [[5.0], [6.0], [7.0]]}),
     ("tariffs", "default"), "must be increasing"),
    ("negative-tariff-price", _set("tariffs.default.prices", [[-5.0], [9.0]]),
     ("tariffs", "default", "prices", 0, 0), "greater than or equal to 0"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "loc", "text"), [pytest.param(*c[1:], id=c[0]) for c in SCHEMA_ERRORS])
def test_schema_rejects_bad_input_with_a_validation_error_naming_the_field(
    change: Callable[[Data], Any], loc: tuple[Any, ...], text: str
) -> None:
    data = mutated(change)
    result = None
    with pytest.raises(ValidationError) as info:
        result = allocate(Problem.model_validate(data), OPTIONS)
    assert result is None  # raised while building the problem: nothing is allocated
    errors = info.value.errors()
    assert any(e["loc"][: len(loc)] == loc for e in errors), [e["loc"] for e in errors]
    assert text in str(info.value)
    # The message names the offending field (its dotted location).
    assert ".".join(str(k) for k in loc) in str(info.value)


def test_schema_rejects_the_same_bad_input_given_as_json() -> None:
    data = mutated(_set("orders.0.lines.0.quantity", 0))
    with pytest.raises(ValidationError, match=r"orders\.0\.lines\.0\.quantity"):
        Problem.model_validate_json(json.dumps(data))


def test_frozen_problem_cannot_be_mutated_into_bad_state() -> None:
    problem = Problem.model_validate(valid())
    with pytest.raises(ValidationError, match="frozen"):
        problem.orders[0].lines[0].quantity = 0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"solver": "greedy"}, "solver"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"seed": -1}, "seed"),
        ({"backend": "gurobi"}, "backend"),
        ({"time_limt_s": 5}, "time_limt_s"),
    ],
)
def test_bad_allocate_options_are_rejected_naming_the_option(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        AllocateOptions.model_validate(options)
    assert any(e["loc"] == (field,) for e in info.value.errors())
