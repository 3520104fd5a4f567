"""API keys: only a salted hash is stored, a token authenticates until revoked, and the CLI manages them."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from routing_engine.cli import app
from routing_engine.ledger import Ledger, keys, schema
from routing_engine.ledger.keys import UnknownKey, UnknownRole


def test_a_key_is_stored_as_a_salted_hash_so_neither_its_token_nor_its_secret_is_in_the_database(
    ledger: Ledger,
) -> None:
    first, first_token = keys.create(ledger.engine, "allocator", name="checkout")
    second, second_token = keys.create(ledger.engine, "allocator", name="checkout")
    with ledger.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(schema.api_keys))]
    stored = repr(rows)
    for token in (first_token, second_token):
        key_id, _, secret = token.partition(".")
        assert key_id in stored
        assert secret not in stored
        assert token not in stored
    assert len({row["salt"] for row in rows}) == 2  # a salt per key
    assert len({row["secret_hash"] for row in rows}) == 2
    assert all(len(row["secret_hash"]) == 64 for row in rows)  # hex HMAC-SHA256
    assert {first.id, second.id} == {row["id"] for row in rows}


def test_a_token_authenticates_its_key_until_revoked_and_a_wrong_or_malformed_token_never_does(
    ledger: Ledger,
) -> None:
    key, token = keys.create(ledger.engine, "inventory")
    assert keys.authenticate(ledger.engine, token) == key
    key_id, _, secret = token.partition(".")
    for wrong in (f"{key_id}.{secret[:-1]}x", f"key_0000000000000000.{secret}", key_id, secret, "", ".", "a.b.c"):
        assert keys.authenticate(ledger.engine, wrong) is None, wrong
    revoked = keys.revoke(ledger.engine, key.id)
    assert revoked.revoked_at is not None
    assert keys.authenticate(ledger.engine, token) is None
    assert keys.revoke(ledger.engine, key.id).revoked_at == revoked.revoked_at  # revoking again changes nothing


def test_creating_a_key_with_an_unknown_role_or_revoking_an_unknown_key_fails_naming_the_field(ledger: Ledger) -> None:
    with pytest.raises(UnknownRole) as role:
        keys.create(ledger.engine, "root")
    assert role.value.field == "role"
    with pytest.raises(UnknownKey) as key:
        keys.revoke(ledger.engine, "key_missing")
    assert key.value.field == "id"
    assert keys.list_keys(ledger.engine) == []


def test_the_keys_commands_print_a_token_once_list_keys_without_secrets_and_revoke_by_id(dsn: str) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--role", "planner", "--name", "analyst", "--db", dsn])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    key_id, _, secret = token.partition(".")
    listed = runner.invoke(app, ["keys", "list", "--db", dsn])
    assert listed.exit_code == 0
    assert key_id in listed.stdout
    assert "planner" in listed.stdout
    assert secret not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", key_id, "--db", dsn]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "key_missing", "--db", dsn]).exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--role", "root", "--db", dsn]).exit_code == 2


def test_the_key_cache_answers_without_a_query_until_its_ttl_and_forgets_a_key_revoked_here_at_once(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    cache = keys.KeyCache(ledger.engine, ttl_s=5, now=lambda: now[0])
    key, token = keys.create(ledger.engine, "allocator")
    queries: list[str] = []
    authenticate = keys.authenticate

    def counted(engine: object, given: str) -> keys.ApiKey | None:
        queries.append(given)
        return authenticate(engine, given)  # type: ignore[arg-type]

    monkeypatch.setattr(keys, "authenticate", counted)
    assert cache.lookup(token) is None
    assert cache.authenticate(token) == key
    assert cache.lookup(token) == key
    assert cache.authenticate(token) == key
    assert len(queries) == 1
    now[0] = 5.0  # the acceptance has lapsed: ask again
    assert cache.lookup(token) is None
    assert cache.authenticate(token) == key
    assert len(queries) == 2
    wrong = f"{key.id}.not-the-secret"
    assert cache.authenticate(wrong) is None
    assert cache.authenticate(wrong) is None
    assert len(queries) == 4  # a refused token is never cached
    keys.revoke(ledger.engine, key.id)
    assert cache.lookup(token) is None
    assert cache.authenticate(token) is None
