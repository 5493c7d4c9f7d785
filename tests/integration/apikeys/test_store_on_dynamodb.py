"""The key service over the real adapters on moto: the api_keys table (and its by_account index),
KMS, and the security log in the audit table.

A key's write and its audit entry are one ``TransactWriteItems``: if any item's condition fails
the whole transaction is cancelled and nothing is written, with a cancellation reason per item
("TransactWriteItems", Amazon DynamoDB API reference, https://docs.aws.amazon.com/amazondynamodb/
latest/APIReference/API_TransactWriteItems.html). A strongly consistent GetItem sees every write
acknowledged before it ("Read consistency", DynamoDB developer guide), which is what makes a
revocation count from the next request.
"""

import json

import pytest

from exchange.apikeys.audit import SecurityEvent, next_entry, verify_security_log
from exchange.apikeys.cipher import KmsCipher, encryption_context
from exchange.apikeys.model import KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.apikeys.store_dynamo import DynamoApiKeyStore
from exchange.journal.audit import AuditLink
from exchange.journal.audit_log import audit_row
from exchange.tables import ApiKeyRecord
from tests.integration.apikeys.conftest import Aws

SPEC = KeySpec(label="bot", scopes=("read", "trade"), allowed_ips=("203.0.113.0/24",))


def service(aws: Aws, store: DynamoApiKeyStore | None = None) -> ApiKeyService:
    return ApiKeyService(
        store=store or DynamoApiKeyStore(sleep=lambda _: None),
        cipher=KmsCipher.from_settings(aws.settings),
        default_rate_limit=20,
        max_per_account=3,
    )


def test_a_key_is_stored_with_only_its_ciphertext_and_read_back_whole(aws: Aws) -> None:
    created = service(aws).create("alice", "alice-name", SPEC)
    item = aws.dynamodb.get_item(
        TableName=aws.settings.api_keys_table, Key={"key_id": {"S": created.key.key_id}}
    )["Item"]
    assert created.secret not in json.dumps(item, default=str)
    stored = DynamoApiKeyStore().get(created.key.key_id)
    assert stored == created.key
    context = encryption_context(created.key.key_id, "alice")
    plain = KmsCipher.from_settings(aws.settings).decrypt(stored.secret_ciphertext, context)
    assert plain.decode() == created.secret


def test_keys_are_listed_per_account_and_revocation_is_kept(aws: Aws) -> None:
    keys = service(aws)
    first = keys.create("alice", None, SPEC)
    second = keys.create("alice", None, KeySpec(label="reader", scopes=("read",)))
    keys.create("bob", None, SPEC)
    revoked = keys.revoke("alice", first.key.key_id)
    again = keys.revoke("alice", first.key.key_id)
    assert again.revoked_ns == revoked.revoked_ns is not None
    listed = {key.key_id: key.revoked_ns for key in keys.list_keys("alice")}
    assert listed == {first.key.key_id: revoked.revoked_ns, second.key.key_id: None}


def test_creations_and_revocations_are_chained_in_the_audit_table(aws: Aws) -> None:
    keys = service(aws)
    first = keys.create("alice", None, SPEC)
    keys.create("alice", None, SPEC)
    keys.revoke("alice", first.key.key_id)
    keys.create("bob", None, SPEC)
    log = DynamoApiKeyStore().security_log("alice")
    assert [(entry.symbol, entry.seq, entry.kind) for entry in log] == [
        ("account#alice", 1, "api_key_created"),
        ("account#alice", 2, "api_key_created"),
        ("account#alice", 3, "api_key_revoked"),
    ]
    assert verify_security_log("alice", log).ok
    assert verify_security_log("bob", DynamoApiKeyStore().security_log("bob")).checked == 1
    assert all(first.secret.encode() not in entry.payload for entry in log)


def test_a_change_that_loses_the_race_for_a_seq_retries_on_the_new_head(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another change that takes seq 2 between our read of the head and our write
    keys = service(aws)
    keys.create("alice", None, SPEC)
    store = DynamoApiKeyStore(sleep=lambda _: None)
    real_head = DynamoApiKeyStore._head
    raced: list[bool] = []

    def stale_head(account_id: str) -> AuditLink | None:
        head = real_head(account_id)
        if not raced and head is not None:
            raced.append(True)
            other = SecurityEvent("api_key_revoked", "alice", {"key_id": "ak_racer"})
            audit_row(next_entry(head, other, now_ns=1)).save()
        return head

    monkeypatch.setattr(DynamoApiKeyStore, "_head", staticmethod(stale_head))
    # When we create a key
    created = service(aws, store).create("alice", None, SPEC)
    # Then it is written once, after the racer, and the chain holds
    log = store.security_log("alice")
    assert [entry.seq for entry in log] == [1, 2, 3]
    assert json.loads(log[2].payload)["key_id"] == created.key.key_id
    assert verify_security_log("alice", log).ok
    assert ApiKeyRecord.count() == 2


def test_revoking_a_key_revoked_meanwhile_writes_nothing_more(aws: Aws) -> None:
    keys = service(aws)
    created = keys.create("alice", None, SPEC)
    store = DynamoApiKeyStore()
    event = SecurityEvent("api_key_revoked", "alice", {"key_id": created.key.key_id})
    assert store.revoke(created.key, revoked_ns=5, event=event) is not None
    assert store.revoke(created.key, revoked_ns=6, event=event) is None  # condition failed
    assert len(store.security_log("alice")) == 2
    assert store.get(created.key.key_id).revoked_ns == 5  # type: ignore[union-attr]


def test_the_cap_counts_the_accounts_active_keys(aws: Aws) -> None:
    from exchange.apikeys.errors import TooManyApiKeys  # noqa: PLC0415

    keys = service(aws)
    made = [keys.create("alice", None, SPEC) for _ in range(3)]
    with pytest.raises(TooManyApiKeys):
        keys.create("alice", None, SPEC)
    keys.revoke("alice", made[0].key.key_id)
    keys.create("alice", None, SPEC)


def test_the_audit_cli_walks_an_accounts_security_chain_and_finds_a_break(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from exchange.apikeys.audit_log import main  # noqa: PLC0415

    keys = service(aws)
    created = keys.create("carol", None, SPEC)
    keys.revoke("carol", created.key.key_id)
    monkeypatch.setenv("EXCHANGE_AUDIT_TABLE", aws.settings.audit_table)
    assert main(["verify", "--account", "carol"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["checked"] == 2
    # Tamper with the second entry's payload: the chain breaks there.
    aws.dynamodb.update_item(
        TableName=aws.settings.audit_table,
        Key={"symbol": {"S": "account#carol"}, "seq": {"N": "2"}},
        UpdateExpression="SET payload = :p",
        ExpressionAttributeValues={":p": {"B": b'{"account_id": "carol"}'}},
    )
    assert main(["verify", "--account", "carol"]) == 1
    broken = json.loads(capsys.readouterr().out)
    assert broken["ok"] is False
    assert broken["broken_at"] == 2
