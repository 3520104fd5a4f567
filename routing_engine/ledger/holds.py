"""Allocate on live stock and hold what was decided, atomically; then confirm, release, reject, ship, expire.

Why it never oversells. The solver runs outside any transaction, on a snapshot. Its decision is then
held atomically, every claim checked on the rows' current, committed values, not on the snapshot:
- SQLite, in ONE write transaction of conditional updates, one per stock row (and per inbound row),

      UPDATE stock SET reserved = reserved + :q
       WHERE node = :node AND sku = :sku AND on_hand - reserved - safety_stock >= :need

  each of which must change exactly one row. SQLite has a single writer: a write transaction starts
  with BEGIN IMMEDIATE, which takes the database write lock before its first statement, so no other
  write can interleave between a check and its increment, nor anywhere in the transaction.
- PostgreSQL, in ONE statement (`_HOLD_AT_ONCE`, atomic by itself, run in autocommit): it locks every
  claimed row with SELECT ... FOR UPDATE, which waits for a concurrent writer of the row to end and then
  returns the row's newest committed version; checks the same condition on those locked versions; and
  only if every claim passes does it reserve the units and write the allocation, its holds and their
  journal entries. The row locks last as long as that statement, not for client round trips.
So `reserved` never exceeds `on_hand - safety_stock` through a hold. If any claim fails (the units went
to someone else since the snapshot), nothing is held (SQLite: the exception rolls the transaction back;
PostgreSQL: the statement writes nothing), and the allocation is solved again on fresh stock, up to
`Ledger.hold_attempts` times (then `StockConflict`, HTTP 409). Rows are claimed in a fixed order (inbound
by id, then stock by node and SKU; an allocation's own row before its holds) so concurrent writers do
not deadlock; a deadlock or lock timeout that happens anyway is retried by `transact`. State changes of
an allocation are conditional on its status as well, so an expiry sweep racing a release frees the
units once.

Round trips. An allocation uses one pooled connection: on PostgreSQL two statements (the snapshot, then
the hold), on SQLite a read transaction and then the write transaction, so the single write lock is
never held while solving. The answer is built from what was written (hold ids come back from the
INSERT), not read again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from routing_engine import geo
from routing_engine.allocate import AllocateOptions, allocate
from routing_engine.errors import ProblemError, UnknownNode
from routing_engine.ledger import journal, schema
from routing_engine.ledger.context import Ledger
from routing_engine.ledger.db import UtcDateTime, driver_row, is_postgres, reading, retrying, transact
from routing_engine.ledger.errors import (
    IdempotencyKeyReused,
    InvalidTransition,
    NotReceived,
    StockConflict,
    UnknownAllocation,
)
from routing_engine.ledger.records import ACTIVE, AllocationRecord, AllocationStatus, HoldRecord, JournalKind
from routing_engine.ledger.stock import Snapshot, snapshot
from routing_engine.ledger.stock import nodes as stock_nodes
from routing_engine.model import AllocationResult, Destination, Line, Order, Problem

#: Most due allocations one sweep expires (the next write sweeps the rest).
SWEEP_LIMIT = 500

# The statements every allocation runs, built once (building one costs more than running it).
_s, _i, _r = schema.stock, schema.inbound, schema.reservations
_HOLD_INBOUND = (
    update(_i)
    .where(_i.c.id == bindparam("b_id"), _i.c.status == "open", _i.c.quantity - _i.c.reserved >= bindparam("b_q"))
    .values(reserved=_i.c.reserved + bindparam("b_q"))
)
_HOLD_STOCK = (
    update(_s)
    .where(
        _s.c.node == bindparam("b_node"),
        _s.c.sku == bindparam("b_sku"),
        _s.c.on_hand - _s.c.reserved - _s.c.safety_stock >= bindparam("b_need"),
    )
    .values(reserved=_s.c.reserved + bindparam("b_q"))
)
_INSERT_ALLOCATION = insert(schema.allocations)
_INSERT_HOLDS = insert(_r).returning(_r.c.id, sort_by_parameter_order=True)
#: PostgreSQL holds a decision in ONE statement, outside any transaction (a statement is atomic by itself):
#: it locks the claimed inbound rows, then the stock rows, each in key order (FOR UPDATE waits for a
#: concurrent writer and then returns the row's newest committed version), checks every claim on those
#: locked versions, and only if all pass reserves the units and inserts the allocation, its holds and
#: their journal entries. `ok` says whether it did; if not, `lost_*` names the first claim that failed.
#: Locks last as long as the statement, not a round trip. Hold ids come back in the holds' order (the
#: INSERT draws them from the sequence in `n` order).
_HOLD_AT_ONCE = """
WITH want_inbound AS (
    SELECT e ->> 0 AS id, (e ->> 1)::bigint AS q FROM json_array_elements(%(inbound)s::json) AS e
), want_stock AS (
    SELECT e ->> 0 AS node, e ->> 1 AS sku, (e ->> 2)::bigint AS need, (e ->> 3)::bigint AS q
    FROM json_array_elements(%(stock)s::json) AS e
), hold AS (
    SELECT e ->> 0 AS order_id, e ->> 1 AS line_id, e ->> 2 AS node, e ->> 3 AS sku, e ->> 4 AS inbound,
        (e ->> 5)::bigint AS quantity, n
    FROM json_array_elements(%(holds)s::json) WITH ORDINALITY AS h (e, n)
), inbound_checked AS MATERIALIZED (
    SELECT i.id, i.status = 'open' AND i.quantity - i.reserved >= w.q AS ok
    FROM inbound AS i JOIN want_inbound AS w ON w.id = i.id
    ORDER BY i.id
    FOR UPDATE OF i
), stock_checked AS MATERIALIZED (
    SELECT s.node, s.sku, s.on_hand - s.reserved - s.safety_stock >= w.need AS ok
    FROM stock AS s JOIN want_stock AS w ON w.node = s.node AND w.sku = s.sku
    ORDER BY s.node, s.sku
    FOR UPDATE OF s
), verdict AS MATERIALIZED (
    SELECT (SELECT count(*) FROM inbound_checked WHERE ok) = (SELECT count(*) FROM want_inbound)
       AND (SELECT count(*) FROM stock_checked WHERE ok) = (SELECT count(*) FROM want_stock) AS ok
), took_inbound AS (
    UPDATE inbound AS i SET reserved = i.reserved + w.q
    FROM want_inbound AS w
    WHERE w.id = i.id AND (SELECT ok FROM verdict)
), took_stock AS (
    UPDATE stock AS s SET reserved = s.reserved + w.q
    FROM want_stock AS w
    WHERE w.node = s.node AND w.sku = s.sku AND (SELECT ok FROM verdict)
), allocation AS (
    INSERT INTO allocations
        (id, idempotency_key, request_hash, orders, results, rejected_nodes, status, created_at, expires_at)
    SELECT %(id)s, %(key)s, %(digest)s, %(orders)s::json, %(results)s::json, '[]'::json, 'held', %(now)s,
        %(expires_at)s
    WHERE (SELECT ok FROM verdict)
), held AS (
    INSERT INTO reservations (allocation_id, order_id, line_id, node, sku, inbound, quantity, status, created_at)
    SELECT %(id)s, h.order_id, h.line_id, h.node, h.sku, h.inbound, h.quantity, 'held', %(now)s
    FROM hold AS h
    WHERE (SELECT ok FROM verdict)
    ORDER BY h.n
    RETURNING id
), journaled AS (
    INSERT INTO journal (at, kind, node, sku, inbound, delta_on_hand, delta_reserved, ref)
    SELECT %(now)s, 'reservation', h.node, h.sku, h.inbound, 0, h.quantity, %(id)s
    FROM hold AS h
    WHERE (SELECT ok FROM verdict)
    ORDER BY h.n
)
SELECT
    (SELECT ok FROM verdict) AS ok,
    ARRAY(SELECT id FROM held ORDER BY id) AS hold_ids,
    (SELECT w.id FROM want_inbound AS w LEFT JOIN inbound_checked AS c ON c.id = w.id
     WHERE c.ok IS NOT TRUE ORDER BY w.id LIMIT 1) AS lost_inbound,
    (SELECT ARRAY[w.node, w.sku] FROM want_stock AS w LEFT JOIN stock_checked AS c ON c.node = w.node AND c.sku = w.sku
     WHERE c.ok IS NOT TRUE ORDER BY w.node, w.sku LIMIT 1) AS lost_stock
"""


@dataclass(frozen=True)
class _Hold:
    """Units to hold for one line at one node, from stock (inbound None) or from an inbound."""

    order: str
    line: str
    node: str
    sku: str
    inbound: str | None
    quantity: int


class _Lost(Exception):
    """A conditional update changed no row: the units were taken since the snapshot."""

    def __init__(self, node: str, sku: str) -> None:
        super().__init__(f"{node}/{sku}")
        self.node = node
        self.sku = sku


# ------------------------------------------------------------------------------------ allocate


def request_hash(orders: Sequence[Order]) -> str:
    text = json.dumps([o.model_dump(mode="json") for o in orders], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _problem(ledger: Ledger, snap: Snapshot, orders: Sequence[Order], exclude: set[str]) -> Problem:
    """The network plus live stock and the request's orders; excluded nodes keep no stock or inbound."""
    return ledger.network.model_copy(
        update={
            "as_of": ledger.clock().date(),
            "nodes": snap.nodes,
            "skus": snap.skus,
            "stock": [s for s in snap.stock if s.node not in exclude],
            "inbound": [i for i in snap.inbound if i.node not in exclude],
            "orders": list(orders),
        }
    )


def _holds_of(result: AllocationResult) -> list[_Hold]:
    holds = []
    for package in result.packages:
        for line in package.lines:
            if line.from_stock:
                holds.append(_Hold(package.order, line.line, package.node, line.sku, None, line.from_stock))
            for use in line.from_inbound:
                holds.append(_Hold(package.order, line.line, package.node, line.sku, use.inbound, use.quantity))
    return holds


Solved = tuple[AllocationResult, list["_Hold"], Snapshot]


def _solve(bind: Engine | Connection, ledger: Ledger, orders: Sequence[Order], exclude: set[str]) -> Solved:
    snap = snapshot(bind, {line.sku for order in orders for line in order.lines})
    options: AllocateOptions = ledger.single if len(orders) == 1 else ledger.batch
    started = time.perf_counter()
    result = allocate(_problem(ledger, snap, orders, exclude), options)
    ledger.events.solved(len(orders), time.perf_counter() - started)
    return result, _holds_of(result), snap


@dataclass(frozen=True)
class _Claims:
    """What holding a decision asks of each row: units per inbound (by id) and, per stock row (by node
    and SKU), the units taken and the units the row must have available for them."""

    inbound: list[tuple[str, int]]  # (inbound id, units)
    stock: list[tuple[str, str, int, int]]  # (node, sku, units needed available, units)
    inbound_at: dict[str, tuple[str, str]]  # inbound id -> (node, sku), to name a lost race


def _claims(holds: Sequence[_Hold], orders: Sequence[Order], snap: Snapshot) -> _Claims:
    """A stock row must keep, after the hold, the units its channel buffers withhold from the channels of
    these orders: for each buffered channel c, q_c + buffer_c <= available, and in total q <= available."""
    channel = {o.id: o.channel for o in orders}
    buffers = {(s.node, s.sku): s.channel_buffers for s in snap.stock}
    on_inbound: dict[str, int] = defaultdict(int)
    on_stock: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    inbound_at = {}
    for h in holds:
        if h.inbound is None:
            on_stock[(h.node, h.sku)][channel[h.order]] += h.quantity
        else:
            on_inbound[h.inbound] += h.quantity
            inbound_at[h.inbound] = (h.node, h.sku)
    stock = []
    for node, sku in sorted(on_stock):
        by_channel = on_stock[(node, sku)]
        q = sum(by_channel.values())
        withheld = buffers.get((node, sku), {})
        stock.append((node, sku, max([q, *(units + withheld.get(ch, 0) for ch, units in by_channel.items())]), q))
    return _Claims(sorted(on_inbound.items()), stock, inbound_at)


def _take(conn: Connection, claims: _Claims) -> None:
    """Reserve every unit claimed or raise `_Lost`; inbound rows first, then stock, each in key order."""
    for inbound_id, q in claims.inbound:
        done = conn.execute(_HOLD_INBOUND, {"b_id": inbound_id, "b_q": q})
        if done.rowcount != 1:
            raise _Lost(*claims.inbound_at[inbound_id])
    for node, sku, need, q in claims.stock:
        done = conn.execute(_HOLD_STOCK, {"b_node": node, "b_sku": sku, "b_need": need, "b_q": q})
        if done.rowcount != 1:
            raise _Lost(node, sku)


def _record_holds(
    conn: Connection, allocation_id: str, holds: Sequence[_Hold], status: AllocationStatus, ledger: Ledger
) -> list[HoldRecord]:
    """Insert the holds and their journal entries; the holds as stored (ids from the INSERT)."""
    now = ledger.clock()
    ids: list[int] = []
    if holds:
        ids = list(
            conn.execute(
                _INSERT_HOLDS,
                [
                    {
                        "allocation_id": allocation_id,
                        "order_id": h.order,
                        "line_id": h.line,
                        "node": h.node,
                        "sku": h.sku,
                        "inbound": h.inbound,
                        "quantity": h.quantity,
                        "status": status,
                        "created_at": now,
                    }
                    for h in holds
                ],
            ).scalars()
        )
    journal.append(
        conn,
        [
            journal.entry(now, "reservation", h.node, h.sku, reserved=h.quantity, inbound=h.inbound, ref=allocation_id)
            for h in holds
        ],
    )
    return _stored(ids, holds, status)


def _stored(ids: Sequence[int], holds: Sequence[_Hold], status: AllocationStatus) -> list[HoldRecord]:
    """The holds as stored under `ids` (in the same order)."""
    return [
        HoldRecord(
            id=i,
            order=h.order,
            line=h.line,
            node=h.node,
            sku=h.sku,
            inbound=h.inbound,
            quantity=h.quantity,
            status=status,
        )
        for i, h in zip(ids, holds, strict=True)
    ]


def _held(
    allocation_id: str, now: dt.datetime, ledger: Ledger, orders: Sequence[Order], result: AllocationResult
) -> AllocationRecord:
    """A new allocation as stored, holds still to add."""
    return AllocationRecord(
        id=allocation_id,
        status="held",
        created_at=now,
        expires_at=now + ledger.hold_ttl,
        orders=list(orders),
        results=[result],
        rejected_nodes=[],
        holds=[],
    )


def _replay(bind: Engine | Connection, key: str, digest: str) -> AllocationRecord | None:
    """The allocation an earlier call with this key made, if any; a different request is an error."""
    a = schema.allocations
    with reading(bind) as conn:
        row = conn.execute(select(a.c.id, a.c.request_hash).where(a.c.idempotency_key == key)).one_or_none()
        if row is None:
            return None
        if row.request_hash != digest:
            raise IdempotencyKeyReused(key)
        return _load(conn, row.id)


def _hold_new(
    conn: Connection,
    ledger: Ledger,
    allocation_id: str,
    key: str | None,
    digest: str,
    orders: Sequence[Order],
    solved: Solved,
) -> AllocationRecord:
    """Hold a decision and record it, statement by statement in the caller's write transaction."""
    result, holds, snap = solved
    _take(conn, _claims(holds, orders, snap))
    now = ledger.clock()
    conn.execute(
        _INSERT_ALLOCATION,
        {
            "id": allocation_id,
            "idempotency_key": key,
            "request_hash": digest,
            "orders": [o.model_dump(mode="json") for o in orders],
            "results": [result.model_dump(mode="json")],
            "rejected_nodes": [],
            "status": "held",
            "created_at": now,
            "expires_at": now + ledger.hold_ttl,
        },
    )
    return _held(allocation_id, now, ledger, orders, result).model_copy(
        update={"holds": _record_holds(conn, allocation_id, holds, "held", ledger)}
    )


def _hold_at_once(
    conn: Connection,
    ledger: Ledger,
    allocation_id: str,
    key: str | None,
    digest: str,
    orders: Sequence[Order],
    solved: Solved,
) -> AllocationRecord:
    """`_hold_new` as ONE statement (`_HOLD_AT_ONCE`) on a PostgreSQL connection in autocommit."""
    result, holds, snap = solved
    claims = _claims(holds, orders, snap)
    now = ledger.clock()
    ok, hold_ids, lost_inbound, lost_stock = driver_row(
        conn,
        _HOLD_AT_ONCE,
        {
            "inbound": orjson.dumps(claims.inbound).decode(),
            "stock": orjson.dumps(claims.stock).decode(),
            "holds": orjson.dumps([(h.order, h.line, h.node, h.sku, h.inbound, h.quantity) for h in holds]).decode(),
            "id": allocation_id,
            "key": key,
            "digest": digest,
            "orders": "[" + ",".join(o.model_dump_json() for o in orders) + "]",
            "results": "[" + result.model_dump_json() + "]",
            "now": UtcDateTime.stored(now),
            "expires_at": UtcDateTime.stored(now + ledger.hold_ttl),
        },
    )
    if not ok:
        raise _Lost(*claims.inbound_at[lost_inbound]) if lost_inbound else _Lost(*lost_stock)
    return _held(allocation_id, now, ledger, orders, result).model_copy(
        update={"holds": _stored(hold_ids, holds, "held")}
    )


def _backoff(attempt: int) -> None:
    """A short random pause before trying again, so racing callers spread out."""
    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))


def allocate_and_hold(
    ledger: Ledger, orders: Sequence[Order], *, idempotency_key: str | None = None
) -> tuple[AllocationRecord, bool]:
    """Allocate `orders` jointly on live stock and hold every unit decided, or nothing.

    Returns the allocation and whether it is a replay: a call with an `idempotency_key` already used
    for the same orders returns that allocation and holds nothing more. Raises `ProblemError` on bad
    input (nothing held), `IdempotencyKeyReused`, or `StockConflict` when every attempt lost a race.
    """
    digest = request_hash(orders)
    with ledger.engine.connect() as conn:
        if idempotency_key is not None and (earlier := _replay(conn, idempotency_key, digest)):
            return earlier, True
        expire_if_due(ledger, conn)
        at_once = is_postgres(conn)
        if at_once:  # each statement its own transaction from here on; the pool resets it on return
            conn.execution_options(isolation_level="AUTOCOMMIT")
        lost = _Lost("", "")
        for attempt in range(ledger.hold_attempts):
            work = partial(
                _hold_at_once if at_once else _hold_new,
                ledger=ledger,
                allocation_id="al_" + secrets.token_hex(10),
                key=idempotency_key,
                digest=digest,
                orders=orders,
            )
            try:
                solved = _solve(conn, ledger, orders, set())
                if at_once:  # one statement in autocommit, atomic by itself: no transaction around it
                    return retrying(partial(work, conn, solved=solved)), False
                return transact(conn, partial(work, solved=solved)), False
            except _Lost as exc:
                lost = exc
                ledger.events.guard_rejected(exc.node, exc.sku)
                _backoff(attempt)
            except IntegrityError:
                # A concurrent call with the same key committed first: answer with its allocation.
                if idempotency_key is not None and (earlier := _replay(conn, idempotency_key, digest)):
                    return earlier, True
                raise
    raise StockConflict(ledger.hold_attempts, lost.node, lost.sku)


def warm_up(ledger: Ledger) -> None:
    """Load now what the first allocations would load: the geography of the countries the nodes serve and
    the solver's compiled code, by computing (not holding) one allocation on live stock. A service calls it
    at startup so that no request waits seconds for it; on a ledger without available stock it only loads
    the geography."""
    nodes = {n.id: n for n in stock_nodes(ledger.engine)}
    geo.warm(sorted({n.country for n in nodes.values()} | {c for n in nodes.values() for c in n.ships_to or ()}))
    s = schema.stock
    with reading(ledger.engine) as conn:
        row = conn.execute(
            select(s.c.node, s.c.sku).where(s.c.on_hand - s.c.reserved - s.c.safety_stock > 0).limit(1)
        ).one_or_none()
    if row is None or row.node not in nodes:
        return
    node = nodes[row.node]
    order = Order(
        id="warm-up",
        currency=ledger.network.currency,
        destination=Destination(country=node.country, lat=node.lat, lon=node.lon),
        lines=[Line(id="1", sku=row.sku, quantity=1, unit_price=1.0)],
    )
    with contextlib.suppress(ProblemError):  # a network the engine refuses is reported by the first request
        allocate(_problem(ledger, snapshot(ledger.engine, {row.sku}), [order], set()), ledger.single)


# ------------------------------------------------------------------------------------------ read


def _load(conn: Connection, allocation_id: str) -> AllocationRecord:
    a, r = schema.allocations, schema.reservations
    row = conn.execute(select(a).where(a.c.id == allocation_id)).mappings().one_or_none()
    if row is None:
        raise UnknownAllocation(allocation_id)
    holds = conn.execute(select(r).where(r.c.allocation_id == allocation_id).order_by(r.c.id)).mappings().all()
    return AllocationRecord(
        id=row.id,
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        orders=row.orders,
        results=row.results,
        rejected_nodes=row.rejected_nodes,
        holds=[
            HoldRecord(
                id=h.id,
                order=h.order_id,
                line=h.line_id,
                node=h.node,
                sku=h.sku,
                inbound=h.inbound,
                quantity=h.quantity,
                status=h.status,
            )
            for h in holds
        ],
    )


def get(ledger: Ledger, allocation_id: str) -> AllocationRecord:
    with reading(ledger.engine) as conn:
        return _load(conn, allocation_id)


# --------------------------------------------------------------------------------- transitions


def _lock(conn: Connection, allocation_id: str) -> RowMapping:
    """The allocation's row, locked until commit (PostgreSQL; SQLite's write lock already covers it)."""
    a = schema.allocations
    row = conn.execute(select(a).where(a.c.id == allocation_id).with_for_update()).mappings().one_or_none()
    if row is None:
        raise UnknownAllocation(allocation_id)
    return row


def _free(
    conn: Connection,
    allocation_id: str,
    hold_ids: Sequence[int] | None,
    to: AllocationStatus,
    kind: JournalKind,
    ledger: Ledger,
) -> None:
    """Move active holds (all of the allocation's, or `hold_ids`) to `to` and return their units.

    A hold on an inbound that has been received since counts against stock.
    """
    r, i, s = schema.reservations, schema.inbound, schema.stock
    query = select(r).where(r.c.allocation_id == allocation_id, r.c.status.in_(ACTIVE)).order_by(r.c.id)
    if hold_ids is not None:
        query = query.where(r.c.id.in_(hold_ids))
    holds = conn.execute(query.with_for_update()).mappings().all()
    if not holds:
        return
    conn.execute(update(r).where(r.c.id.in_([h.id for h in holds])).values(status=to))
    inbound_ids = sorted({h.inbound for h in holds if h.inbound is not None})
    open_inbound = set(
        conn.execute(
            select(i.c.id).where(i.c.id.in_(inbound_ids), i.c.status == "open").order_by(i.c.id).with_for_update()
        ).scalars()
    )
    on_inbound: dict[str, int] = defaultdict(int)
    on_stock: dict[tuple[str, str], int] = defaultdict(int)
    now, moves = ledger.clock(), []
    for h in holds:
        from_inbound = h.inbound in open_inbound
        if from_inbound:
            on_inbound[h.inbound] += h.quantity
        else:
            on_stock[(h.node, h.sku)] += h.quantity
        moves.append(
            journal.entry(
                now,
                kind,
                h.node,
                h.sku,
                reserved=-h.quantity,
                inbound=h.inbound if from_inbound else None,
                ref=allocation_id,
            )
        )
    for inbound_id in sorted(on_inbound):
        conn.execute(update(i).where(i.c.id == inbound_id).values(reserved=i.c.reserved - on_inbound[inbound_id]))
    for node, sku in sorted(on_stock):
        q = on_stock[(node, sku)]
        conn.execute(update(s).where(s.c.node == node, s.c.sku == sku).values(reserved=s.c.reserved - q))
    journal.append(conn, moves)


def _set_status(conn: Connection, allocation_id: str, status: AllocationStatus, **values: Any) -> None:
    a = schema.allocations
    conn.execute(update(a).where(a.c.id == allocation_id).values(status=status, **values))


def expire_due(ledger: Ledger, bind: Engine | Connection | None = None) -> int:
    """Expire held allocations whose TTL has passed and return their units; how many were expired."""
    a = schema.allocations
    now = ledger.clock()
    with reading(bind if bind is not None else ledger.engine) as conn:
        due = (
            conn.execute(
                select(a.c.id).where(a.c.status == "held", a.c.expires_at <= now).order_by(a.c.id).limit(SWEEP_LIMIT)
            )
            .scalars()
            .all()
        )
        earliest = conn.execute(
            select(func.min(a.c.expires_at)).where(a.c.status == "held", a.c.expires_at > now)
        ).scalar_one_or_none()
    expired = sum(
        transact(bind if bind is not None else ledger.engine, partial(_expire, ledger=ledger, allocation_id=x, now=now))
        for x in due
    )
    ledger.sweeps.swept(now, earliest, ledger.hold_ttl, more=len(due) == SWEEP_LIMIT)
    return expired


def expire_if_due(ledger: Ledger, bind: Engine | Connection | None = None) -> int:
    """`expire_due` before a write, skipped while `Ledger.sweeps` knows nothing can be due yet."""
    return expire_due(ledger, bind) if ledger.sweeps.due(ledger.clock()) else 0


def _expire(conn: Connection, ledger: Ledger, allocation_id: str, now: dt.datetime) -> int:
    row = _lock(conn, allocation_id)
    if row.status != "held" or row.expires_at > now:
        return 0  # confirmed, released or expired by another writer meanwhile
    _free(conn, allocation_id, None, "expired", "expiry", ledger)
    _set_status(conn, allocation_id, "expired")
    return 1


def confirm(ledger: Ledger, allocation_id: str) -> AllocationRecord:
    """The order was placed: its holds no longer expire. Confirming twice is harmless."""
    expire_if_due(ledger)

    def work(conn: Connection) -> AllocationRecord:
        row = _lock(conn, allocation_id)
        if row.status == "confirmed":
            return _load(conn, allocation_id)
        if row.status != "held" or row.expires_at <= ledger.clock():
            raise InvalidTransition(allocation_id, "expired" if row.status == "held" else row.status, "confirmed")
        r = schema.reservations
        holds = conn.execute(select(r).where(r.c.allocation_id == allocation_id, r.c.status == "held")).mappings().all()
        conn.execute(update(r).where(r.c.id.in_([h.id for h in holds])).values(status="confirmed"))
        now = ledger.clock()
        journal.append(
            conn,
            [journal.entry(now, "confirmation", h.node, h.sku, inbound=h.inbound, ref=allocation_id) for h in holds],
        )
        _set_status(conn, allocation_id, "confirmed", expires_at=None)
        return _load(conn, allocation_id)

    return transact(ledger.engine, work)


def release(ledger: Ledger, allocation_id: str) -> AllocationRecord:
    """Give every held unit back (the order was cancelled). Releasing twice, or after expiry, is harmless."""
    expire_if_due(ledger)

    def work(conn: Connection) -> AllocationRecord:
        row = _lock(conn, allocation_id)
        if row.status in ("released", "expired"):
            return _load(conn, allocation_id)
        if row.status not in ACTIVE:
            raise InvalidTransition(allocation_id, row.status, "released")
        _free(conn, allocation_id, None, "released", "release", ledger)
        _set_status(conn, allocation_id, "released", expires_at=None)
        return _load(conn, allocation_id)

    return transact(ledger.engine, work)


def ship(ledger: Ledger, allocation_id: str) -> AllocationRecord:
    """A confirmed allocation left its nodes: its units leave on-hand stock and are no longer reserved."""
    expire_if_due(ledger)

    def work(conn: Connection) -> AllocationRecord:
        row = _lock(conn, allocation_id)
        if row.status == "shipped":
            return _load(conn, allocation_id)
        if row.status != "confirmed":
            raise InvalidTransition(allocation_id, row.status, "shipped (confirm it first)")
        r, i, s = schema.reservations, schema.inbound, schema.stock
        holds = (
            conn.execute(
                select(r).where(r.c.allocation_id == allocation_id, r.c.status == "confirmed").order_by(r.c.id)
            )
            .mappings()
            .all()
        )
        inbound_ids = sorted({h.inbound for h in holds if h.inbound is not None})
        for inbound_id in conn.execute(
            select(i.c.id).where(i.c.id.in_(inbound_ids), i.c.status == "open").order_by(i.c.id)
        ).scalars():
            raise NotReceived(inbound_id)
        conn.execute(update(r).where(r.c.id.in_([h.id for h in holds])).values(status="shipped"))
        units: dict[tuple[str, str], int] = defaultdict(int)
        for h in holds:
            units[(h.node, h.sku)] += h.quantity
        for node, sku in sorted(units):
            q = units[(node, sku)]
            conn.execute(
                update(s)
                .where(s.c.node == node, s.c.sku == sku)
                .values(on_hand=s.c.on_hand - q, reserved=s.c.reserved - q)
            )
        now = ledger.clock()
        journal.append(
            conn,
            [
                journal.entry(
                    now, "shipment", h.node, h.sku, on_hand=-h.quantity, reserved=-h.quantity, ref=allocation_id
                )
                for h in holds
            ],
        )
        _set_status(conn, allocation_id, "shipped")
        return _load(conn, allocation_id)

    return transact(ledger.engine, work)


def reject(ledger: Ledger, allocation_id: str, node: str) -> AllocationRecord:
    """`node` refused its part (short pick, closed): re-route the units it held to other nodes.

    The affected lines are allocated again, excluding every node this allocation had refused so far,
    and in one transaction the node's holds are released and the new ones taken. The new result is
    appended to `results`; what cannot be re-routed is in its `unfilled`.
    """
    if node not in {n.id for n in stock_nodes(ledger.engine)}:
        raise UnknownNode(node, "node")
    expire_if_due(ledger)
    lost = _Lost(node, "")
    for attempt in range(ledger.hold_attempts):
        current = get(ledger, allocation_id)
        if current.status not in ACTIVE:
            raise InvalidTransition(allocation_id, current.status, "re-routed")
        affected = [h for h in current.holds if h.node == node and h.status in ACTIVE]
        exclude = {*current.rejected_nodes, node}
        orders = _reroute_orders(current, affected)
        solved = _solve(ledger.engine, ledger, orders, exclude) if orders else None
        work = partial(
            _reroute, ledger=ledger, current=current, affected=affected, exclude=exclude, orders=orders, solved=solved
        )
        try:
            return transact(ledger.engine, work)
        except _Lost as exc:
            lost = exc
            ledger.events.guard_rejected(exc.node, exc.sku)
            _backoff(attempt)
    raise StockConflict(ledger.hold_attempts, lost.node, lost.sku)


def _reroute(
    conn: Connection,
    ledger: Ledger,
    current: AllocationRecord,
    affected: Sequence[HoldRecord],
    exclude: set[str],
    orders: Sequence[Order],
    solved: Solved | None,
) -> AllocationRecord:
    a, r = schema.allocations, schema.reservations
    row = _lock(conn, current.id)
    still = conn.execute(
        select(r.c.id).where(
            r.c.allocation_id == current.id, r.c.id.in_([h.id for h in current.holds]), r.c.status.in_(ACTIVE)
        )
    ).scalars()
    active_before = [h.id for h in current.holds if h.status in ACTIVE]
    if row.status != current.status or sorted(still) != sorted(active_before):
        raise _Lost("", "")  # the allocation changed since it was read: look again
    _free(conn, current.id, [h.id for h in affected], "released", "release", ledger)
    results = list(row.results)
    if solved is not None:
        result, holds, snap = solved
        _take(conn, _claims(holds, orders, snap))
        _record_holds(conn, current.id, holds, row.status, ledger)
        results.append(result.model_dump(mode="json"))
    conn.execute(update(a).where(a.c.id == current.id).values(results=results, rejected_nodes=sorted(exclude)))
    return _load(conn, current.id)


def _reroute_orders(allocation: AllocationRecord, affected: Sequence[HoldRecord]) -> list[Order]:
    """The allocation's orders cut down to the affected lines, each for the units the node held."""
    units: dict[tuple[str | None, str | None], int] = defaultdict(int)
    for h in affected:
        units[(h.order, h.line)] += h.quantity
    orders = []
    for order in allocation.orders:
        lines = [
            line.model_copy(update={"quantity": units[(order.id, line.id)]})
            for line in order.lines
            if units.get((order.id, line.id))
        ]
        if lines:
            orders.append(order.model_copy(update={"lines": lines}))
    return orders
