"""Nodes and SKUs: list them, add or replace one. They live in the ledger once it is seeded.

A node's tariff and currency must exist in the network file.
"""

from __future__ import annotations

from fastapi import APIRouter

from routing_engine.api.deps import LedgerDep
from routing_engine.api.schemas import NodePublic, SkuPublic
from routing_engine.errors import InvalidValue
from routing_engine.ledger import stock
from routing_engine.model import Node, Sku

router = APIRouter(prefix="/v1", tags=["network"])


@router.get("/nodes", response_model=list[NodePublic])
def nodes(ledger: LedgerDep) -> list[Node]:
    return stock.nodes(ledger.engine)


@router.put("/nodes/{node_id}", response_model=NodePublic)
def put_node(node_id: str, body: Node, ledger: LedgerDep) -> Node:
    if body.id != node_id:
        raise InvalidValue(f"body id {body.id!r} differs from the path's {node_id!r}", field="id")
    return stock.put_node(ledger, body)


@router.get("/skus", response_model=list[SkuPublic])
def skus(ledger: LedgerDep) -> list[Sku]:
    return stock.skus(ledger.engine)


@router.put("/skus/{sku_id}", response_model=SkuPublic)
def put_sku(sku_id: str, body: Sku, ledger: LedgerDep) -> Sku:
    if body.id != sku_id:
        raise InvalidValue(f"body id {body.id!r} differs from the path's {sku_id!r}", field="id")
    return stock.put_sku(ledger, body)
