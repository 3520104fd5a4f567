"""API keys at the HTTP edge: 401 without a live key, 403 outside the key's role, open health and metrics."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from routing_engine.ledger import keys
from routing_engine.ledger.testing import order

ALLOCATE = {"order": order("o1", ("tee", 1)).model_dump(mode="json")}
#: One request per (area, read or write): method, path, body.
OPERATIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "allocate": ("POST", "/v1/allocations", ALLOCATE),
    "read an allocation": ("GET", "/v1/allocations/al_unknown", None),
    "receive stock": ("POST", "/v1/stock/receipts", {"node": "nyc", "sku": "tee", "quantity": 1}),
    "read stock": ("GET", "/v1/stock", None),
    "put a sku": ("PUT", "/v1/skus/cap", {"id": "cap", "weight_kg": 0.1}),
    "list nodes": ("GET", "/v1/nodes", None),
    "read the journal": ("GET", "/v1/journal", None),
}
ALLOWED = {
    "allocator": {"allocate", "read an allocation"},
    "inventory": {"receive stock", "read stock", "put a sku", "list nodes", "read the journal"},
    "planner": {"read an allocation", "read stock", "list nodes", "read the journal"},
    "admin": set(OPERATIONS),
}


def call(client: TestClient, operation: str, headers: dict[str, str]) -> Any:
    method, path, body = OPERATIONS[operation]
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", list(ALLOWED))
def test_each_role_may_use_exactly_its_areas_and_gets_a_403_naming_the_role_elsewhere(
    client: TestClient, role: str
) -> None:
    _, token = keys.create(client.app.state.ledger.engine, role)  # type: ignore[attr-defined]
    for operation in OPERATIONS:
        response = call(client, operation, {"Authorization": f"Bearer {token}"})
        if operation in ALLOWED[role]:
            assert response.status_code not in (401, 403), (role, operation, response.text)
        else:
            assert response.status_code == 403, (role, operation, response.text)
            body = response.json()
            assert body["error"] == "Forbidden"
            assert body["field"] == "Authorization"
            assert repr(role) in body["message"]


def test_a_request_without_a_key_gets_a_401_in_the_error_shape_and_holds_nothing(client: TestClient) -> None:
    admin = client.headers.pop("Authorization")
    response = client.post("/v1/allocations", json=ALLOCATE)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"] == "NotAuthenticated"
    assert response.json()["field"] == "Authorization"
    stock = client.get("/v1/stock", headers={"Authorization": admin}).json()
    assert all(row["reserved"] == 0 for row in stock)


def test_unknown_wrong_and_revoked_keys_get_a_401_and_the_x_api_key_header_works_like_bearer(
    client: TestClient,
) -> None:
    client.headers.pop("Authorization")
    engine = client.app.state.ledger.engine  # type: ignore[attr-defined]
    key, token = keys.create(engine, "planner")
    assert client.get("/v1/stock", headers={"X-API-Key": token}).status_code == 200
    assert client.get("/v1/stock", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for wrong in ("nonsense", f"{key.id}.not-the-secret", f"key_0000000000000000.{token.partition('.')[2]}"):
        assert client.get("/v1/stock", headers={"X-API-Key": wrong}).status_code == 401, wrong
    assert client.get("/v1/stock", headers={"Authorization": f"Basic {token}"}).status_code == 401
    keys.revoke(engine, key.id)
    assert client.get("/v1/stock", headers={"X-API-Key": token}).status_code == 401


def test_health_and_metrics_answer_without_a_key(client: TestClient) -> None:
    client.headers.pop("Authorization")
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_openapi_document_declares_both_key_schemes_on_every_v1_operation_and_none_on_health(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path.startswith("/v1/"):
                assert operation["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], path
                assert {"401", "403"} <= set(operation["responses"]), path
            else:
                assert "security" not in operation, path
