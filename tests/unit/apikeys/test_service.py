"""The key service over the in-memory store: what a key may be, listing, revocation, the cap,
the secret's handling and the security log's chain."""

import json
import re
from dataclasses import replace

import pytest

from exchange.apikeys.audit import verify_security_log
from exchange.apikeys.cipher import encryption_context
from exchange.apikeys.errors import (
    ApiKeyNotFound,
    InvalidApiKeyRequest,
    KeyRejected,
    TooManyApiKeys,
)
from exchange.apikeys.model import KEY_ID_PATTERN, KeySpec, ip_allowed
from tests.unit.apikeys.conftest import Keys


def test_a_new_key_has_an_id_a_secret_shown_once_and_only_ciphertext_stored(keys: Keys) -> None:
    created = keys.create(["trade", "read"])
    key = created.key
    assert re.fullmatch(KEY_ID_PATTERN, key.key_id)
    assert created.secret.startswith("sk_")
    assert len(created.secret) == 46
    assert key.scopes == ("read", "trade")
    assert key.rate_limit_per_second == 20  # the deployment's default
    stored = keys.store.get(key.key_id)
    assert stored is not None
    assert created.secret.encode() not in stored.secret_ciphertext
    assert created.secret not in repr(stored)
    assert created.secret not in repr(created)
    context = encryption_context(key.key_id, "alice")
    assert keys.cipher.decrypt(stored.secret_ciphertext, context) == created.secret.encode()


def test_the_secret_opens_only_under_its_own_key_and_account(keys: Keys) -> None:
    created = keys.create()
    ciphertext = created.key.secret_ciphertext
    with pytest.raises(KeyRejected):
        keys.cipher.decrypt(ciphertext, encryption_context(created.key.key_id, "mallory"))


@pytest.mark.parametrize(
    "spec",
    [
        KeySpec(label="x", scopes=()),
        KeySpec(label="x", scopes=("admin",)),
        KeySpec(label="", scopes=("read",)),
        KeySpec(label="x" * 65, scopes=("read",)),
        KeySpec(label="x", scopes=("read",), allowed_ips=("10.0.0.1/24",)),  # host bits set
        KeySpec(label="x", scopes=("read",), allowed_ips=("not-an-ip",)),
        KeySpec(label="x", scopes=("read",), allowed_ips=()),
        KeySpec(label="x", scopes=("read",), expires_ns=1),  # in the past
        KeySpec(label="x", scopes=("read",), rate_limit_per_second=21),  # above the default
        KeySpec(label="x", scopes=("read", "withdraw")),  # withdraw without an allow-list
    ],
)
def test_a_key_that_breaks_a_rule_is_refused_and_nothing_is_written(
    keys: Keys, spec: KeySpec
) -> None:
    with pytest.raises(InvalidApiKeyRequest):
        keys.service.create("alice", None, spec)
    assert keys.store.keys == {}
    assert keys.store.security_log("alice") == []


def test_allow_lists_are_normalized_and_checked_by_address(keys: Keys) -> None:
    created = keys.create(allowed_ips=["203.0.113.0/24", "2001:db8::1"])
    assert created.key.allowed_ips == ("203.0.113.0/24", "2001:db8::1/128")
    assert ip_allowed("203.0.113.200", created.key.allowed_ips)
    assert ip_allowed("2001:db8::1", created.key.allowed_ips)
    assert not ip_allowed("203.0.114.1", created.key.allowed_ips)
    assert not ip_allowed("garbage", created.key.allowed_ips)
    assert ip_allowed("198.51.100.1", None)


def test_listing_shows_every_key_newest_first_and_never_another_accounts(keys: Keys) -> None:
    first = keys.create()
    keys.clock.now_ms += 1
    second = keys.create(["read"])
    keys.create(account_id="bob")
    listed = keys.service.list_keys("alice")
    assert [key.key_id for key in listed] == [second.key.key_id, first.key.key_id]


def test_revocation_is_idempotent_and_the_key_stays_listed(keys: Keys) -> None:
    created = keys.create()
    keys.clock.now_ms += 10
    revoked = keys.service.revoke("alice", created.key.key_id)
    keys.clock.now_ms += 10
    again = keys.service.revoke("alice", created.key.key_id)
    assert revoked.revoked_ns == again.revoked_ns == keys.clock.ns() - 10_000_000
    assert [key.revoked_ns for key in keys.service.list_keys("alice")] == [revoked.revoked_ns]
    kinds = [entry.kind for entry in keys.store.security_log("alice")]
    assert kinds == ["api_key_created", "api_key_revoked"]  # one revocation recorded


def test_another_accounts_key_cannot_be_revoked_and_reads_as_missing(keys: Keys) -> None:
    created = keys.create(account_id="bob")
    with pytest.raises(ApiKeyNotFound):
        keys.service.revoke("alice", created.key.key_id)
    with pytest.raises(ApiKeyNotFound):
        keys.service.revoke("alice", "ak_" + "x" * 24)
    assert keys.store.keys[created.key.key_id].revoked_ns is None


def test_the_cap_counts_active_keys_only(keys: Keys) -> None:
    made = [keys.create() for _ in range(5)]
    with pytest.raises(TooManyApiKeys):
        keys.create()
    keys.service.revoke("alice", made[0].key.key_id)
    keys.create()  # a revoked key no longer counts
    keys.create(account_id="bob")  # nor does another account's cap


def test_an_expired_key_no_longer_counts_against_the_cap(keys: Keys) -> None:
    for _ in range(4):
        keys.create()
    keys.create(expires_ns=keys.clock.ns() + 1_000_000)
    keys.clock.now_ms += 2
    keys.create()


def test_creation_and_revocation_are_chained_in_the_accounts_security_log(keys: Keys) -> None:
    first = keys.create(allowed_ips=["203.0.113.0/24"])
    second = keys.create(["read"])
    keys.service.revoke("alice", first.key.key_id)
    log = keys.store.security_log("alice")
    assert [(e.symbol, e.seq, e.kind) for e in log] == [
        ("account#alice", 1, "api_key_created"),
        ("account#alice", 2, "api_key_created"),
        ("account#alice", 3, "api_key_revoked"),
    ]
    assert verify_security_log("alice", log).ok
    payloads = [json.loads(e.payload) for e in log]
    assert payloads[0]["key_id"] == first.key.key_id
    assert payloads[0]["allowed_ips"] == ["203.0.113.0/24"]
    assert payloads[1]["scopes"] == ["read"]
    assert payloads[2]["revoked_ns"] is not None
    for entry in log:  # never the secret, nor its ciphertext
        for secret in (first.secret, second.secret):
            assert secret.encode() not in entry.payload
        assert b"ciphertext" not in entry.payload


def test_a_changed_or_missing_security_entry_breaks_the_chain(keys: Keys) -> None:
    keys.create()
    keys.create()
    keys.create()
    log = keys.store.security_log("alice")
    tampered = replace(log[1], payload=log[1].payload.replace(b'"read"', b'"withdraw"'))
    assert verify_security_log("alice", [log[0], tampered, log[2]]).broken_at == 2
    assert verify_security_log("alice", [log[0], log[2]]).broken_at == 2
    assert verify_security_log("bob", log).broken_at == 1  # another account's chain
