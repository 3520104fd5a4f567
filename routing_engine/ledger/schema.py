"""The ledger's tables (SQLAlchemy Core): network, stock, inbound supply, allocations, holds, journal, API keys.

The migrations in `migrations/versions` create exactly these; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from routing_engine.ledger.db import UtcDateTime

ID = 128
metadata = MetaData()

#: Nodes and SKUs as their model's JSON (`Node`, `Sku`): the ledger is their home once seeded.
nodes = Table("nodes", metadata, Column("id", String(ID), primary_key=True), Column("data", JSON, nullable=False))
skus = Table("skus", metadata, Column("id", String(ID), primary_key=True), Column("data", JSON, nullable=False))

#: Stock of one SKU at one node; available = on_hand - reserved - safety_stock.
stock = Table(
    "stock",
    metadata,
    Column("node", String(ID), ForeignKey("nodes.id"), nullable=False),
    Column("sku", String(ID), ForeignKey("skus.id"), nullable=False),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("safety_stock", BigInteger, nullable=False),
    Column("channel_buffers", JSON, nullable=False),
    PrimaryKeyConstraint("node", "sku"),
    CheckConstraint("on_hand >= 0 AND reserved >= 0 AND safety_stock >= 0", name="stock_non_negative"),
)

#: Supply on its way: `quantity` still to arrive (0 once received), `reserved` of it held by backorders.
inbound = Table(
    "inbound",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("node", String(ID), ForeignKey("nodes.id"), nullable=False),
    Column("sku", String(ID), ForeignKey("skus.id"), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("eta", Date, nullable=False),
    Column("status", String(16), nullable=False),  # open | received
    CheckConstraint("reserved >= 0 AND reserved <= quantity", name="inbound_reserved_within_quantity"),
)

#: One allocate-and-hold call: its request, every result (the first, then one per rejected node),
#: and its lifecycle (held -> confirmed -> shipped, or released / expired). Holds expire with it.
allocations = Table(
    "allocations",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("idempotency_key", String(255), unique=True, nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("orders", JSON, nullable=False),
    Column("results", JSON, nullable=False),
    Column("rejected_nodes", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Index("allocations_status_expires_at", "status", "expires_at"),
)

#: Units an allocation holds for one line at one node: from stock, or from an inbound while it is open.
reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("allocation_id", String(40), ForeignKey("allocations.id"), nullable=False),
    Column("order_id", String(ID), nullable=True),
    Column("line_id", String(ID), nullable=True),
    Column("node", String(ID), nullable=False),
    Column("sku", String(ID), nullable=False),
    Column("inbound", String(ID), ForeignKey("inbound.id"), nullable=True),
    Column("quantity", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("quantity > 0", name="reservations_positive"),
    Index("reservations_allocation", "allocation_id"),
)

#: Append-only record of every movement. A row with `inbound` moves that inbound's quantity/reserved;
#: otherwise it moves stock (node, sku). Summing it rebuilds both.
journal = Table(
    "journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("node", String(ID), nullable=False),
    Column("sku", String(ID), nullable=False),
    Column("inbound", String(ID), nullable=True),
    Column("delta_on_hand", BigInteger, nullable=False),
    Column("delta_reserved", BigInteger, nullable=False),
    Column("ref", String(255), nullable=True),
)

#: API keys: only a salted HMAC-SHA256 of each key's secret is stored; the token is shown once, at creation.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("name", String(255), nullable=True),
    Column("salt", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)
