"""API keys with roles: create (the token is returned once), list, revoke, and authenticate a token.

A token is `<key id>.<secret>`; the database keeps only HMAC-SHA256(salt, secret) with a per-key salt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
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
