"""Stock, inbound supply, nodes and SKUs in the ledger: read them, receive, adjust, announce, upsert.

Every movement of units writes its journal entry in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Engine,
    Select,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from routing_engine.errors import DuplicateId, InvalidValue, MissingFxRate, UnknownNode, UnknownReference, UnknownSku
from routing_engine.ledger import journal, schema
from routing_engine.ledger.context import Ledger
from routing_engine.ledger.db import driver_row, is_postgres, reading, transact
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


_SKU_IDS: BindParameter[list[str]] = bindparam("sku_ids", expanding=True)
#: PostgreSQL takes the SKUs as one array parameter: one statement text whatever their number, so it is
#: prepared once, and nothing is spliced into it per call.
_SKU_ARRAY: BindParameter[Any] = bindparam("sku_ids", type_=ARRAY(String))
_SNAPSHOTS: dict[str, Select[Any]] = {}


def _snapshot_statement(dialect: str) -> Select[Any]:
    """The snapshot as ONE statement (a round trip, not four): each part aggregated into an array.

    Built once per dialect, as building a statement costs more than running it. Nodes and SKUs come as
    the text of their JSON, which `_node` and `_sku` read once per distinct text; SQLite keeps JSON
    columns as text, which `json()` turns back into JSON inside the stock rows.
    """
    if dialect not in _SNAPSHOTS:
        pg = dialect == "postgresql"
        agg = func.json_agg if pg else func.json_group_array
        row = func.json_build_array if pg else func.json_array

        def as_json(column: Any) -> Any:
            return column if pg else func.json(column)

        def listed(*values: Any) -> Any:
            return agg(values[0] if len(values) == 1 else row(*values), type_=JSON)

        def texts(column: Any) -> Any:
            return func.array_agg(cast(column, Text), type_=ARRAY(Text)) if pg else listed(column)

        def asked(column: Any) -> Any:
            return column == any_(_SKU_ARRAY) if pg else column.in_(_SKU_IDS)

        n, k, s, i = schema.nodes, schema.skus, schema.stock, schema.inbound
        _SNAPSHOTS[dialect] = select(
            select(texts(n.c.data)).scalar_subquery(),
            select(texts(k.c.data)).where(asked(k.c.id)).scalar_subquery(),
            select(listed(s.c.node, s.c.sku, s.c.on_hand, s.c.reserved, s.c.safety_stock, as_json(s.c.channel_buffers)))
            .where(asked(s.c.sku))
            .scalar_subquery(),
            select(listed(i.c.id, i.c.node, i.c.sku, i.c.quantity - i.c.reserved, i.c.eta))
            .where(asked(i.c.sku), i.c.status == "open", i.c.quantity > i.c.reserved)
            .scalar_subquery(),
        )
    return _SNAPSHOTS[dialect]


# Nodes and SKUs change seldom and are read by every allocation: each distinct JSON text is validated once
# per process. A changed node is new text, so a snapshot never sees a stale one.
@lru_cache(maxsize=4096)
def _node(text: str) -> Node:
    return Node.model_validate_json(text)


@lru_cache(maxsize=65536)
def _sku(text: str) -> Sku:
    return Sku.model_validate_json(text)


@cache
def _pg_snapshot() -> tuple[str, dict[str, Any]]:
    """The PostgreSQL snapshot as the SQL text psycopg runs (`driver_row`) and its fixed parameters."""
    compiled = _snapshot_statement("postgresql").compile(dialect=PGDialect_psycopg())
    return str(compiled), {k: v for k, v in compiled.params.items() if k != "sku_ids"}


def snapshot(bind: Engine | Connection, sku_ids: Collection[str]) -> Snapshot:
    """Read in its own transaction, or in the one a given connection is in; each part in key order."""
    asked = sorted(set(sku_ids))
    with reading(bind) as conn:
        if is_postgres(conn):
            sql, fixed = _pg_snapshot()
            nodes, skus, stock, inbound = driver_row(conn, sql, {**fixed, "sku_ids": asked})
        else:
            nodes, skus, stock, inbound = conn.execute(_snapshot_statement(conn.dialect.name), {"sku_ids": asked}).one()
    return Snapshot(
        sorted((_node(text) for text in nodes or ()), key=lambda x: x.id),
        sorted((_sku(text) for text in skus or ()), key=lambda x: x.id),
        sorted(
            (StockLevel.model_validate(dict(zip(STOCK_COLUMNS, r, strict=True))) for r in stock or ()),
            key=lambda x: (x.node, x.sku),
        ),
        sorted(
            (Inbound(id=x, node=node, sku=sku, quantity=q, eta=eta) for x, node, sku, q, eta in inbound or ()),
            key=lambda x: x.id,
        ),
    )


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
