"""Stock, inbound supply, nodes and SKUs in the ledger: read them, receive, adjust, announce, upsert.

Every movement of units writes its journal entry in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from routing_engine.errors import DuplicateId, InvalidValue, MissingFxRate, UnknownNode, UnknownReference, UnknownSku
from routing_engine.ledger import journal, schema
from routing_engine.ledger.context import Ledger
from routing_engine.ledger.db import is_postgres, reading, transact
from routing_engine.ledger.errors import InsufficientStock, UnknownInbound
from routing_engine.ledger.records import STOCK_COLUMNS, InboundRecord, StockRecord
from routing_engine.model import Inbound, Node, Sku, StockLevel

# ------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Snapshot:
    """What an allocation sees: every node, and the SKUs, stock and open inbound of the SKUs it asks for.

    Inbound quantities are what is still unpromised (quantity - reserved); fully promised supply is left out.
    """

    nodes: list[Node]
    skus: list[Sku]
    stock: list[StockLevel]
    inbound: list[Inbound]


# The snapshot's statements, built once: each allocation runs them, and building costs more than running.
_SKU_IDS: BindParameter[list[str]] = bindparam("sku_ids", expanding=True)
_NODES = select(schema.nodes.c.data).order_by(schema.nodes.c.id)
_SKUS = select(schema.skus.c.data).where(schema.skus.c.id.in_(_SKU_IDS)).order_by(schema.skus.c.id)
_STOCK = (
    select(*(schema.stock.c[name] for name in STOCK_COLUMNS))
    .where(schema.stock.c.sku.in_(_SKU_IDS))
    .order_by(schema.stock.c.node, schema.stock.c.sku)
)
_INBOUND = (
    select(schema.inbound)
    .where(
        schema.inbound.c.sku.in_(_SKU_IDS),
        schema.inbound.c.status == "open",
        schema.inbound.c.quantity > schema.inbound.c.reserved,
    )
    .order_by(schema.inbound.c.id)
)


def snapshot(bind: Engine | Connection, sku_ids: Collection[str]) -> Snapshot:
    """Read in its own transaction, or in the one a given connection is in."""
    ids = {"sku_ids": sorted(set(sku_ids))}
    with reading(bind) as conn:
        nodes = [Node.model_validate(d) for d in conn.execute(_NODES).scalars()]
        skus = [Sku.model_validate(d) for d in conn.execute(_SKUS, ids).scalars()]
        stock = [StockLevel.model_validate(dict(row)) for row in conn.execute(_STOCK, ids).mappings()]
        inbound = [
            Inbound(id=row.id, node=row.node, sku=row.sku, quantity=row.quantity - row.reserved, eta=row.eta)
            for row in conn.execute(_INBOUND, ids)
        ]
    return Snapshot(nodes, skus, stock, inbound)


def levels(engine: Engine, *, node: str | None = None, sku: str | None = None) -> list[StockRecord]:
    """Stock rows, optionally of one node and/or one SKU, ordered by node then SKU."""
    s = schema.stock
    query = select(s).order_by(s.c.node, s.c.sku)
    if node is not None:
        query = query.where(s.c.node == node)
    if sku is not None:
        query = query.where(s.c.sku == sku)
    with reading(engine) as conn:
        return [StockRecord.of(row) for row in conn.execute(query).mappings()]


def inbound_supply(engine: Engine, *, status: str | None = None) -> list[InboundRecord]:
    i = schema.inbound
    query = select(i).order_by(i.c.eta, i.c.id)
    if status is not None:
        query = query.where(i.c.status == status)
    with reading(engine) as conn:
        return [InboundRecord.model_validate(dict(row)) for row in conn.execute(query).mappings()]


def nodes(engine: Engine) -> list[Node]:
    with reading(engine) as conn:
        return [
            Node.model_validate(d)
            for d in conn.execute(select(schema.nodes.c.data).order_by(schema.nodes.c.id)).scalars()
        ]


def skus(engine: Engine) -> list[Sku]:
    with reading(engine) as conn:
        return [
            Sku.model_validate(d) for d in conn.execute(select(schema.skus.c.data).order_by(schema.skus.c.id)).scalars()
        ]


# ------------------------------------------------------------------------------------------ writes


def _upsert(conn: Connection, table: Table, values: dict[str, Any], *, update_columns: Collection[str]) -> None:
    ins = (pg_insert if is_postgres(conn) else sqlite_insert)(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    if update_columns:
        conn.execute(ins.on_conflict_do_update(index_elements=keys, set_={c: ins.excluded[c] for c in update_columns}))
    else:
        conn.execute(ins.on_conflict_do_nothing(index_elements=keys))


def _require(conn: Connection, node: str, sku: str) -> None:
    if conn.execute(select(func.count()).where(schema.nodes.c.id == node)).scalar_one() == 0:
        raise UnknownNode(node, "node")
    if conn.execute(select(func.count()).where(schema.skus.c.id == sku)).scalar_one() == 0:
        raise UnknownSku(sku, "sku")


def _ensure_stock_row(conn: Connection, node: str, sku: str) -> None:
    values = {"node": node, "sku": sku, "on_hand": 0, "reserved": 0, "safety_stock": 0, "channel_buffers": {}}
    _upsert(conn, schema.stock, values, update_columns=())


def _stock_row(conn: Connection, node: str, sku: str) -> StockRecord:
    s = schema.stock
    row = conn.execute(select(s).where(s.c.node == node, s.c.sku == sku)).mappings().one()
    return StockRecord.of(row)


def receive(ledger: Ledger, node: str, sku: str, quantity: int, *, ref: str | None = None) -> StockRecord:
    """Units arrived at `node` outside any announced inbound (a return, a found case, an initial count)."""
    if quantity <= 0:
        raise InvalidValue("a receipt must be at least 1 unit", field="quantity")

    def work(conn: Connection) -> StockRecord:
        _require(conn, node, sku)
        _ensure_stock_row(conn, node, sku)
        s = schema.stock
        conn.execute(update(s).where(s.c.node == node, s.c.sku == sku).values(on_hand=s.c.on_hand + quantity))
        journal.append(conn, [journal.entry(ledger.clock(), "receipt", node, sku, on_hand=quantity, ref=ref)])
        return _stock_row(conn, node, sku)

    return transact(ledger.engine, work)


def adjust(ledger: Ledger, node: str, sku: str, delta: int, *, reason: str | None = None) -> StockRecord:
    """Correct on-hand stock after a count, damage or loss; it may go below reserved, never below 0."""
    if delta == 0:
        raise InvalidValue("an adjustment must change stock", field="delta")

    def work(conn: Connection) -> StockRecord:
        _require(conn, node, sku)
        _ensure_stock_row(conn, node, sku)
        s = schema.stock
        done = conn.execute(
            update(s)
            .where(s.c.node == node, s.c.sku == sku, s.c.on_hand + delta >= 0)
            .values(on_hand=s.c.on_hand + delta)
        )
        if done.rowcount != 1:
            raise InsufficientStock(node, sku, _stock_row(conn, node, sku).on_hand, delta)
        journal.append(conn, [journal.entry(ledger.clock(), "adjustment", node, sku, on_hand=delta, ref=reason)])
        return _stock_row(conn, node, sku)

    return transact(ledger.engine, work)


def _inbound_row(conn: Connection, inbound_id: str) -> InboundRecord:
    row = conn.execute(select(schema.inbound).where(schema.inbound.c.id == inbound_id)).mappings().one_or_none()
    if row is None:
        raise UnknownInbound(inbound_id)
    return InboundRecord.model_validate(dict(row))


def announce_inbound(ledger: Ledger, supply: Inbound) -> InboundRecord:
    """Supply on its way (a purchase order, a transfer): promisable to backorders from now on."""

    def work(conn: Connection) -> InboundRecord:
        _require(conn, supply.node, supply.sku)
        try:
            with conn.begin_nested():
                conn.execute(insert(schema.inbound).values(**supply.model_dump(), reserved=0, status="open"))
        except IntegrityError:
            raise DuplicateId("inbound", supply.id) from None
        journal.append(
            conn,
            [
                journal.entry(
                    ledger.clock(), "inbound", supply.node, supply.sku, on_hand=supply.quantity, inbound=supply.id
                )
            ],
        )
        return _inbound_row(conn, supply.id)

    return transact(ledger.engine, work)


def receive_inbound(ledger: Ledger, inbound_id: str) -> InboundRecord:
    """The supply arrived: its units join stock, and the backorders it carried become holds on stock."""

    def work(conn: Connection) -> InboundRecord:
        i, s = schema.inbound, schema.stock
        row = conn.execute(select(i).where(i.c.id == inbound_id).with_for_update()).mappings().one_or_none()
        if row is None:
            raise UnknownInbound(inbound_id)
        if row.status == "received":
            return InboundRecord.model_validate(dict(row))
        node, sku, quantity, reserved = row.node, row.sku, row.quantity, row.reserved
        conn.execute(update(i).where(i.c.id == inbound_id).values(status="received", quantity=0, reserved=0))
        _ensure_stock_row(conn, node, sku)
        conn.execute(
            update(s)
            .where(s.c.node == node, s.c.sku == sku)
            .values(on_hand=s.c.on_hand + quantity, reserved=s.c.reserved + reserved)
        )
        now = ledger.clock()
        journal.append(
            conn,
            [
                journal.entry(now, "inbound", node, sku, on_hand=-quantity, reserved=-reserved, inbound=inbound_id),
                journal.entry(now, "receipt", node, sku, on_hand=quantity, reserved=reserved, ref=inbound_id),
            ],
        )
        return _inbound_row(conn, inbound_id)

    return transact(ledger.engine, work)


def put_node(ledger: Ledger, node: Node) -> Node:
    """Add or replace a node; its tariff and currency must exist in the network."""
    if node.tariff not in ledger.network.tariffs:
        raise UnknownReference("tariff", node.tariff, "tariff")
    if (
        node.currency is not None
        and node.currency != ledger.network.currency
        and node.currency not in ledger.network.fx
    ):
        raise MissingFxRate(node.currency, "currency")

    def work(conn: Connection) -> Node:
        _upsert(conn, schema.nodes, {"id": node.id, "data": node.model_dump(mode="json")}, update_columns=("data",))
        return node

    return transact(ledger.engine, work)


def put_sku(ledger: Ledger, sku: Sku) -> Sku:
    """Add or replace a SKU (weight, restricted countries)."""

    def work(conn: Connection) -> Sku:
        _upsert(conn, schema.skus, {"id": sku.id, "data": sku.model_dump(mode="json")}, update_columns=("data",))
        return sku

    return transact(ledger.engine, work)
