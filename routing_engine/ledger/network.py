"""The network file: the static parts of a problem, loaded at startup; it seeds an empty ledger.

After the first start the ledger is the home of nodes, SKUs, stock and inbound; the file keeps the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import Connection

from routing_engine.ledger import journal, schema
from routing_engine.ledger.db import transact, utc_now
from routing_engine.ledger.migrate import lock_setup
from routing_engine.model import Problem
from routing_engine.validate import check_problem

#: The allocation that holds the units a seeded stock level already had reserved.
SEED_ALLOCATION = "seed"
STOCK_FIELDS = {"node", "sku", "on_hand", "reserved", "safety_stock", "channel_buffers"}


def load_network(path: Path) -> Problem:
    """Read a Problem-shaped JSON file; its orders, if any, are dropped. Raises on bad input."""
    network = Problem.model_validate(json.loads(path.read_text())).model_copy(update={"orders": []})
    check_problem(network)
    return network


def seed(engine: Engine, network: Problem) -> bool:
    """Fill an empty ledger with the network's nodes, SKUs, stock and inbound; False if it had nodes.

    Units a stock level already has reserved are held, confirmed, by the allocation "seed".
    """

    def work(conn: Connection) -> bool:
        lock_setup(conn)
        if conn.execute(select(func.count()).select_from(schema.nodes)).scalar_one():
            return False
        now = utc_now()
        reserved = [s for s in network.stock if s.reserved]
        conn.execute(insert(schema.nodes), [{"id": n.id, "data": n.model_dump(mode="json")} for n in network.nodes])
        conn.execute(insert(schema.skus), [{"id": s.id, "data": s.model_dump(mode="json")} for s in network.skus])
        if network.stock:
            conn.execute(insert(schema.stock), [s.model_dump(include=STOCK_FIELDS) for s in network.stock])
        if reserved:
            conn.execute(
                insert(schema.allocations).values(
                    id=SEED_ALLOCATION,
                    request_hash="",
                    orders=[],
                    results=[],
                    rejected_nodes=[],
                    status="confirmed",
                    created_at=now,
                )
            )
            conn.execute(
                insert(schema.reservations),
                [
                    {
                        "allocation_id": SEED_ALLOCATION,
                        "node": s.node,
                        "sku": s.sku,
                        "quantity": s.reserved,
                        "status": "confirmed",
                        "created_at": now,
                    }
                    for s in reserved
                ],
            )
        if network.inbound:
            conn.execute(
                insert(schema.inbound),
                [i.model_dump() | {"reserved": 0, "status": "open"} for i in network.inbound],
            )
        journal.append(
            conn,
            [journal.entry(now, "receipt", s.node, s.sku, on_hand=s.on_hand, ref="seed") for s in network.stock]
            + [journal.entry(now, "reservation", s.node, s.sku, reserved=s.reserved, ref="seed") for s in reserved]
            + [
                journal.entry(now, "inbound", i.node, i.sku, on_hand=i.quantity, inbound=i.id, ref="seed")
                for i in network.inbound
            ],
        )
        return True

    return transact(engine, work)
