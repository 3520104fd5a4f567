"""The HTTP API end to end: allocations and their lifecycle, stock, inbound, nodes, errors and limits."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from routing_engine.ledger.testing import FakeClock, order


def order_json(order_id: str, *lines: tuple[str, int], near: str = "nyc") -> dict[str, Any]:
    return order(order_id, *lines, near=near).model_dump(mode="json")


def reserved(client: TestClient) -> dict[str, int]:
    return {f"{r['node']}/{r['sku']}": r["reserved"] for r in client.get("/v1/stock").json() if r["reserved"]}


def assert_consistent(client: TestClient) -> None:
    assert client.get("/v1/journal/check").json() == {"consistent": True, "problems": []}


def test_health_reports_the_database_it_answers_from(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_allocating_one_order_holds_its_units_and_the_allocation_can_be_read_back(client: TestClient) -> None:
    response = client.post("/v1/allocations", json={"order": order_json("o1", ("tee", 2), ("mug", 1))})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "held"
    assert sorted((h["node"], h["sku"], h["quantity"]) for h in body["holds"]) == [("nyc", "mug", 1), ("nyc", "tee", 2)]
    assert body["results"][0]["solver"]["status"] == "optimal"
    assert client.get(f"/v1/allocations/{body['id']}").json() == body
    assert reserved(client) == {"nyc/mug": 1, "nyc/tee": 2}
    assert_consistent(client)


def test_a_batch_is_allocated_jointly_and_held_as_one_allocation(client: TestClient) -> None:
    orders = [order_json("o1", ("tee", 4)), order_json("o2", ("tee", 3), near="chi")]
    response = client.post("/v1/allocations/batch", json={"orders": orders})
    assert response.status_code == 201
    assert len(response.json()["results"][0]["packages"]) == 2
    assert reserved(client) == {"chi/tee": 3, "nyc/tee": 4}


def test_retrying_with_the_same_idempotency_key_returns_the_same_answer_and_holds_nothing_twice(
    client: TestClient,
) -> None:
    body = {"order": order_json("o1", ("tee", 2))}
    first = client.post("/v1/allocations", json=body, headers={"Idempotency-Key": "checkout-42"})
    again = client.post("/v1/allocations", json=body, headers={"Idempotency-Key": "checkout-42"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    assert reserved(client) == {"nyc/tee": 2}
    other = client.post(
        "/v1/allocations", json={"order": order_json("o1", ("tee", 3))}, headers={"Idempotency-Key": "checkout-42"}
    )
    assert other.status_code == 422
    assert other.json()["field"] == "Idempotency-Key"
    assert reserved(client) == {"nyc/tee": 2}


def test_confirm_then_ship_takes_units_off_on_hand_and_a_released_allocation_cannot_be_confirmed(
    client: TestClient,
) -> None:
    kept = client.post("/v1/allocations", json={"order": order_json("o1", ("tee", 2))}).json()
    assert client.post(f"/v1/allocations/{kept['id']}/confirm").json()["status"] == "confirmed"
    assert client.post(f"/v1/allocations/{kept['id']}/ship").json()["status"] == "shipped"
    (nyc_tee,) = client.get("/v1/stock", params={"node": "nyc", "sku": "tee"}).json()
    assert (nyc_tee["on_hand"], nyc_tee["reserved"], nyc_tee["available"]) == (3, 0, 3)

    dropped = client.post("/v1/allocations", json={"order": order_json("o2", ("tee", 1))}).json()
    assert client.post(f"/v1/allocations/{dropped['id']}/release").json()["status"] == "released"
    refused = client.post(f"/v1/allocations/{dropped['id']}/confirm")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "InvalidTransition",
        "field": "status",
        "message": f"allocation '{dropped['id']}' is released; it cannot be confirmed",
    }
    assert reserved(client) == {}
    assert_consistent(client)


def test_rejecting_a_node_reroutes_its_lines_elsewhere(client: TestClient) -> None:
    allocation = client.post("/v1/allocations", json={"order": order_json("o1", ("tee", 2))}).json()
    response = client.post(f"/v1/allocations/{allocation['id']}/reject", json={"node": "nyc"})
    assert response.status_code == 200
    body = response.json()
    assert body["rejected_nodes"] == ["nyc"]
    assert [(h["node"], h["status"]) for h in body["holds"]] == [("nyc", "released"), ("chi", "held")]
    assert reserved(client) == {"chi/tee": 2}
    unknown = client.post(f"/v1/allocations/{allocation['id']}/reject", json={"node": "paris"})
    assert (unknown.status_code, unknown.json()["field"]) == (422, "node")
    assert_consistent(client)


def test_an_unconfirmed_hold_expires_after_its_ttl(client: TestClient, clock: FakeClock) -> None:
    allocation = client.post("/v1/allocations", json={"order": order_json("o1", ("tee", 2))}).json()
    clock.advance(minutes=11)
    assert client.post("/v1/allocations/expire").json() == {"expired": 1}
    assert client.get(f"/v1/allocations/{allocation['id']}").json()["status"] == "expired"
    assert reserved(client) == {}


def test_an_unknown_allocation_is_a_404_naming_the_id(client: TestClient) -> None:
    for method, path in [("get", "/v1/allocations/al_nope"), ("post", "/v1/allocations/al_nope/confirm")]:
        response = getattr(client, method)(path)
        assert response.status_code == 404
        assert response.json() == {"error": "UnknownAllocation", "field": "id", "message": "no allocation 'al_nope'"}
    assert client.get("/v2/anything").json()["field"] == "path"


def test_bad_input_is_a_422_naming_the_field_and_reserves_nothing(client: TestClient) -> None:
    unknown_sku = client.post("/v1/allocations", json={"order": order_json("o1", ("tee", 1), ("sofa", 1))})
    assert unknown_sku.status_code == 422
    assert unknown_sku.json() == {
        "error": "UnknownSku",
        "field": "orders[o1].lines[2].sku",
        "message": "unknown sku 'sofa'",
    }
    negative = order_json("o2", ("tee", 1))
    negative["lines"][0]["quantity"] = -1
    invalid = client.post("/v1/allocations", json={"order": negative})
    assert invalid.status_code == 422
    assert invalid.json()["field"] == "order.lines[0].quantity"
    typo = order_json("o3", ("tee", 1)) | {"chanel": "web"}
    assert client.post("/v1/allocations", json={"order": typo}).json()["field"] == "order.chanel"
    assert client.post("/v1/allocations", json={}).json()["field"] == "order"
    broken = client.post("/v1/allocations", content=b"{", headers={"content-type": "application/json"})
    assert (broken.status_code, broken.json()["field"]) == (422, "body")
    assert reserved(client) == {}
    assert client.get("/v1/journal").json()[-1]["kind"] != "reservation"


def test_requests_over_the_limits_are_413_naming_what_is_too_large_and_reserve_nothing(client: TestClient) -> None:
    too_many_orders = client.post(
        "/v1/allocations/batch", json={"orders": [order_json(f"o{i}", ("tee", 1)) for i in range(4)]}
    )
    assert too_many_orders.status_code == 413
    assert too_many_orders.json() == {
        "error": "RequestTooLarge",
        "field": "orders",
        "message": "4 orders is over the limit of 3",
    }
    long_order = order_json("o1", ("tee", 1), ("mug", 1), ("lamp", 1), ("tee", 1))
    too_many_lines = client.post("/v1/allocations", json={"order": long_order})
    assert (too_many_lines.status_code, too_many_lines.json()["field"]) == (413, "order.lines")
    in_batch = client.post("/v1/allocations/batch", json={"orders": [long_order]})
    assert (in_batch.status_code, in_batch.json()["field"]) == (413, "orders[o1].lines")
    absurd = order_json("o1", ("tee", 1))
    absurd["lines"][0]["quantity"] = 10**30
    too_many_units = client.post("/v1/allocations", json={"order": absurd})
    assert (too_many_units.status_code, too_many_units.json()["field"]) == (422, "order.lines[0].quantity")
    huge = client.post("/v1/allocations", content=b" " * 30_000, headers={"content-type": "application/json"})
    assert (huge.status_code, huge.json()["field"]) == (413, "body")
    assert reserved(client) == {}


def test_receipts_adjustments_and_inbound_move_stock_and_name_what_is_wrong(client: TestClient) -> None:
    receipt = client.post("/v1/stock/receipts", json={"node": "lax", "sku": "tee", "quantity": 4})
    assert (receipt.status_code, receipt.json()["available"]) == (201, 4)
    too_much = client.post("/v1/stock/adjustments", json={"node": "lax", "sku": "tee", "delta": -5})
    assert (too_much.status_code, too_much.json()["field"]) == (422, "delta")
    assert client.post("/v1/stock/adjustments", json={"node": "lax", "sku": "tee", "delta": -1}).json()["on_hand"] == 3
    unknown = client.post("/v1/stock/receipts", json={"node": "paris", "sku": "tee", "quantity": 1})
    assert unknown.json() == {"error": "UnknownNode", "field": "node", "message": "unknown node 'paris'"}

    supply = {"id": "po-2", "node": "nyc", "sku": "lamp", "quantity": 3, "eta": "2026-01-08"}
    assert client.post("/v1/inbound", json=supply).status_code == 201
    assert client.post("/v1/inbound", json=supply).json()["field"] == "inbounds[po-2]"
    backorder = client.post("/v1/allocations", json={"order": order_json("o1", ("lamp", 2))}).json()
    assert [(h["inbound"], h["quantity"]) for h in backorder["holds"]] == [("po-2", 2)]
    received = client.post("/v1/inbound/po-2/receive").json()
    assert (received["status"], received["quantity"]) == ("received", 0)
    assert reserved(client) == {"nyc/lamp": 2}
    assert client.post("/v1/inbound/po-404/receive").status_code == 404
    assert_consistent(client)


def test_nodes_and_skus_are_listed_and_upserted_with_the_id_in_the_path(client: TestClient) -> None:
    assert [n["id"] for n in client.get("/v1/nodes").json()] == ["chi", "lax", "nyc"]
    node = {"id": "sea", "country": "US", "lat": 47.6, "lon": -122.3, "tariff": "ground"}
    assert client.put("/v1/nodes/sea", json=node).status_code == 200
    assert client.put("/v1/nodes/mia", json=node).json()["field"] == "id"
    assert client.put("/v1/nodes/sea", json=node | {"tariff": "air"}).json()["field"] == "tariff"
    assert client.put("/v1/skus/sofa", json={"id": "sofa", "weight_kg": 30}).status_code == 200
    assert "sofa" in {s["id"] for s in client.get("/v1/skus").json()}


def test_the_openapi_document_is_served_and_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/allocations", "/v1/allocations/batch", "/v1/allocations/{allocation_id}/reject", "/v1/stock"} <= set(
        paths
    )


def test_the_openapi_file_in_the_repository_is_the_one_the_app_serves() -> None:
    from routing_engine.api.openapi import EXPORTED, render

    assert EXPORTED.read_text() == render(), "run: python -m routing_engine.api.openapi"
