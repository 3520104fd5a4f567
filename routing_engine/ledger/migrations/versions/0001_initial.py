"""Initial ledger schema: nodes, skus, stock, inbound, allocations, reservations, journal.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 128


def upgrade() -> None:
    op.create_table(
        "nodes", sa.Column("id", sa.String(ID), primary_key=True), sa.Column("data", sa.JSON, nullable=False)
    )
    op.create_table(
        "skus", sa.Column("id", sa.String(ID), primary_key=True), sa.Column("data", sa.JSON, nullable=False)
    )
    op.create_table(
        "stock",
        sa.Column("node", sa.String(ID), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("sku", sa.String(ID), sa.ForeignKey("skus.id"), nullable=False),
        sa.Column("on_hand", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("safety_stock", sa.BigInteger, nullable=False),
        sa.Column("channel_buffers", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("node", "sku"),
        sa.CheckConstraint("on_hand >= 0 AND reserved >= 0 AND safety_stock >= 0", name="stock_non_negative"),
    )
    op.create_table(
        "inbound",
        sa.Column("id", sa.String(ID), primary_key=True),
        sa.Column("node", sa.String(ID), sa.ForeignKey("nodes.id"), nullable=False),
        sa.Column("sku", sa.String(ID), sa.ForeignKey("skus.id"), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.Column("eta", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.CheckConstraint("reserved >= 0 AND reserved <= quantity", name="inbound_reserved_within_quantity"),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), unique=True, nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("orders", sa.JSON, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("rejected_nodes", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=True),
    )
    op.create_index("allocations_status_expires_at", "allocations", ["status", "expires_at"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("allocation_id", sa.String(40), sa.ForeignKey("allocations.id"), nullable=False),
        sa.Column("order_id", sa.String(ID), nullable=True),
        sa.Column("line_id", sa.String(ID), nullable=True),
        sa.Column("node", sa.String(ID), nullable=False),
        sa.Column("sku", sa.String(ID), nullable=False),
        sa.Column("inbound", sa.String(ID), sa.ForeignKey("inbound.id"), nullable=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.CheckConstraint("quantity > 0", name="reservations_positive"),
    )
    op.create_index("reservations_allocation", "reservations", ["allocation_id"])
    op.create_table(
        "journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("node", sa.String(ID), nullable=False),
        sa.Column("sku", sa.String(ID), nullable=False),
        sa.Column("inbound", sa.String(ID), nullable=True),
        sa.Column("delta_on_hand", sa.BigInteger, nullable=False),
        sa.Column("delta_reserved", sa.BigInteger, nullable=False),
        sa.Column("ref", sa.String(255), nullable=True),
    )


def downgrade() -> None:
    for table in ("journal", "reservations", "allocations", "inbound", "stock", "skus", "nodes"):
        op.drop_table(table)
