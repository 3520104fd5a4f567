"""The append-only journal of stock movements, and the check that stock and holds agree with it.

`rebuild` sums the journal into levels; `check` lists every place where tables and journal disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import Connection

from routing_engine.ledger import schema
from routing_engine.ledger.db import reading
from routing_engine.ledger.records import ACTIVE, JournalEntry, JournalKind

K = TypeVar("K", str, tuple[str, str])


def entry(
    at: dt.datetime,
    kind: JournalKind,
    node: str,
    sku: str,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    inbound: str | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """One movement; with `inbound` it moves that inbound's quantity/reserved instead of stock (node, sku)."""
    return {
        "at": at,
        "kind": kind,
        "node": node,
        "sku": sku,
        "inbound": inbound,
        "delta_on_hand": on_hand,
        "delta_reserved": reserved,
        "ref": ref,
    }


_INSERT = insert(schema.journal)


def append(conn: Connection, entries: list[dict[str, Any]]) -> None:
    """Write movements in the caller's transaction, so they commit or roll back with the change itself."""
    if entries:
        conn.execute(_INSERT, entries)


@dataclass
class Levels:
    """(on hand or quantity, reserved) per stock row (node, sku) and per inbound id."""

    stock: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    inbound: dict[str, tuple[int, int]] = field(default_factory=dict)


def rebuild(engine: Engine) -> Levels:
    """Levels recomputed from the journal alone."""
    with reading(engine, consistent=True) as conn:
        return _sum_journal(conn)


def _sum_journal(conn: Connection) -> Levels:
    j = schema.journal
    rows = conn.execute(
        select(j.c.node, j.c.sku, j.c.inbound, func.sum(j.c.delta_on_hand), func.sum(j.c.delta_reserved)).group_by(
            j.c.node, j.c.sku, j.c.inbound
        )
    ).all()
    levels = Levels()
    for node, sku, inbound, on_hand, reserved in rows:
        if inbound is None:
            levels.stock[(node, sku)] = (int(on_hand), int(reserved))
        else:
            levels.inbound[inbound] = (int(on_hand), int(reserved))
    return levels


def check(engine: Engine) -> list[str]:
    """Every disagreement between the journal, the stock and inbound tables and the active holds.

    Empty means consistent: stock and inbound equal the journal's sums, and each row's `reserved`
    equals the units of its active holds (an inbound's holds count against stock once it is received).
    """
    s, i, r = schema.stock, schema.inbound, schema.reservations
    with reading(engine, consistent=True) as conn:
        stock = {
            (n, k): (int(h), int(v))
            for n, k, h, v in conn.execute(select(s.c.node, s.c.sku, s.c.on_hand, s.c.reserved))
        }
        inbound = {x: (int(q), int(v)) for x, q, v in conn.execute(select(i.c.id, i.c.quantity, i.c.reserved))}
        still_open = set(conn.execute(select(i.c.id).where(i.c.status == "open")).scalars())
        holds = conn.execute(
            select(r.c.node, r.c.sku, r.c.inbound, func.sum(r.c.quantity))
            .where(r.c.status.in_(ACTIVE))
            .group_by(r.c.node, r.c.sku, r.c.inbound)
        ).all()
        levels = _sum_journal(conn)
    held_stock: dict[tuple[str, str], int] = defaultdict(int)
    held_inbound: dict[str, int] = defaultdict(int)
    for node, sku, inb, units in holds:
        if inb in still_open:
            held_inbound[inb] += int(units)
        else:
            held_stock[(node, sku)] += int(units)
    problems = []
    for (node, sku), (on_hand, reserved) in _outer(stock, levels.stock, (0, 0)):
        where = f"stock[{node}/{sku}]"
        summed = levels.stock.get((node, sku), (0, 0))
        if (on_hand, reserved) != summed:
            problems.append(f"{where} (on_hand, reserved) is {(on_hand, reserved)}, journal says {summed}")
        if reserved != held_stock.get((node, sku), 0):
            problems.append(f"{where} reserved is {reserved}, its holds sum to {held_stock.get((node, sku), 0)}")
    for inbound_id, (quantity, reserved) in _outer(inbound, levels.inbound, (0, 0)):
        where = f"inbound[{inbound_id}]"
        summed = levels.inbound.get(inbound_id, (0, 0))
        if (quantity, reserved) != summed:
            problems.append(f"{where} (quantity, reserved) is {(quantity, reserved)}, journal says {summed}")
        if reserved != held_inbound.get(inbound_id, 0):
            problems.append(f"{where} reserved is {reserved}, its holds sum to {held_inbound.get(inbound_id, 0)}")
    missing = (held_stock.keys() - stock.keys(), held_inbound.keys() - inbound.keys())
    problems += [f"holds on stock[{n}/{k}], which has no row" for n, k in sorted(missing[0])]
    problems += [f"holds on inbound[{x}], which has no row" for x in sorted(missing[1])]
    return problems


def _outer(
    table: dict[K, tuple[int, int]], journal: dict[K, tuple[int, int]], zero: tuple[int, int]
) -> list[tuple[K, tuple[int, int]]]:
    """Rows of the table plus keys only the journal knows (with a zero row), in key order."""
    return [(key, table.get(key, zero)) for key in sorted(table.keys() | journal.keys())]


def entries(engine: Engine, *, after: int = 0, limit: int = 1000) -> list[JournalEntry]:
    """Journal entries with id > `after`, oldest first."""
    j = schema.journal
    with reading(engine) as conn:
        rows = conn.execute(select(j).where(j.c.id > after).order_by(j.c.id).limit(limit)).mappings().all()
    return [JournalEntry.model_validate(dict(row)) for row in rows]
