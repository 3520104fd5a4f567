"""API keys with roles: create (the token is returned once), list, revoke, and authenticate a token.

A token is `<key id>.<secret>`; the database keeps only HMAC-SHA256(salt, secret) with a per-key salt.
`KeyCache` remembers accepted tokens for a few seconds so that a request does not cost a query for its key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Literal, get_args

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from routing_engine.ledger import schema
from routing_engine.ledger.db import reading, transact, utc_now
from routing_engine.ledger.errors import LedgerError, NotFound
from routing_engine.model import Frozen

Role = Literal["allocator", "inventory", "planner", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
#: Hashed for an unknown key id too, so a miss takes as long as a wrong secret.
_DECOY_SALT = secrets.token_hex(16)


class UnknownRole(LedgerError):
    def __init__(self, role: str) -> None:
        super().__init__(f"{role!r} is not one of {', '.join(ROLES)}", field="role")
        self.role = role


class UnknownKey(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key {key_id!r}", field="id")
        self.key_id = key_id


class ApiKey(Frozen):
    """An API key as stored, without its secret."""

    id: str
    role: Role
    name: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _record(row: Any) -> ApiKey:
    return ApiKey(id=row.id, role=row.role, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at)


def create(engine: Engine, role: str, *, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key with `role`; returns it and its token, which is not stored and cannot be shown again."""
    if role not in ROLES:
        raise UnknownRole(role)
    key_id = "key_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    k = schema.api_keys
    values = {"id": key_id, "role": role, "name": name, "salt": salt, "created_at": utc_now(), "revoked_at": None}

    def work(conn: Connection) -> None:
        conn.execute(k.insert().values(**values, secret_hash=_digest(salt, secret)))

    transact(engine, work)
    return _record(SimpleNamespace(**values)), f"{key_id}.{secret}"


def list_keys(engine: Engine) -> list[ApiKey]:
    k = schema.api_keys
    with reading(engine) as conn:
        rows = conn.execute(select(k.c.id, k.c.role, k.c.name, k.c.created_at, k.c.revoked_at).order_by(k.c.id))
        return [_record(row) for row in rows]


def revoke(engine: Engine, key_id: str) -> ApiKey:
    """Revoke a key from now on (revoking twice keeps the first time); raises `UnknownKey`."""
    k = schema.api_keys

    def work(conn: Connection) -> None:
        conn.execute(update(k).where(k.c.id == key_id, k.c.revoked_at.is_(None)).values(revoked_at=utc_now()))

    transact(engine, work)
    for cache in list(_CACHES):
        cache.forget(key_id)
    for key in list_keys(engine):
        if key.id == key_id:
            return key
    raise UnknownKey(key_id)


def authenticate(engine: Engine, token: str) -> ApiKey | None:
    """The live key whose token this is, or None (malformed, unknown, wrong secret or revoked)."""
    key_id, _, secret = token.partition(".")
    k = schema.api_keys
    with reading(engine) as conn:
        row = conn.execute(select(k).where(k.c.id == key_id)).first() if secret else None
    if row is None:
        hmac.compare_digest(_digest(_DECOY_SALT, secret), "0" * 64)
        return None
    if not hmac.compare_digest(_digest(row.salt, secret), row.secret_hash) or row.revoked_at is not None:
        return None
    return _record(row)


class KeyCache:
    """Accepted tokens of one ledger for `ttl_s` seconds: SHA-256(token) -> the live key, so that a request
    needs no query for its key.

    Only accepted tokens are kept (a new key works at once, a wrong token is checked every time). A revoke
    in this process drops the key's entries at once; a revoke elsewhere (another worker, the CLI) takes
    effect here within `ttl_s`. At most `max_entries` tokens are kept; when full, the cache starts afresh.
    """

    def __init__(
        self, engine: Engine, ttl_s: float, *, max_entries: int = 4096, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._now = now
        self._entries: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def lookup(self, token: str) -> ApiKey | None:
        """The key of a token accepted less than `ttl_s` ago, else None (then call `authenticate`)."""
        with self._lock:
            hit = self._entries.get(self._slot(token))
        return hit[0] if hit is not None and hit[1] > self._now() else None

    def authenticate(self, token: str) -> ApiKey | None:
        """`authenticate(engine, token)`, answered from the cache while an acceptance is fresh."""
        if self.ttl_s <= 0:
            return authenticate(self.engine, token)
        if (key := self.lookup(token)) is not None:
            return key
        slot, now = self._slot(token), self._now()
        key = authenticate(self.engine, token)
        with self._lock:
            if key is None:
                self._entries.pop(slot, None)
            else:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[slot] = (key, now + self.ttl_s)
        return key

    @staticmethod
    def _slot(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def forget(self, key_id: str) -> None:
        with self._lock:
            for slot in [s for s, (key, _) in self._entries.items() if key.id == key_id]:
                del self._entries[slot]


#: Every cache in this process, so that `revoke` reaches them all.
_CACHES: weakref.WeakSet[KeyCache] = weakref.WeakSet()
