"""``local.recording``: every AWS API call of a process, whoever makes the client and in whichever
thread, one JSON line each, with its principal and the parameters that name its resource only."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from local import recording

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
SECRET_VALUE = "do-not-log-this-value"  # noqa: S105 - a test value, which must never be logged


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "calls.jsonl"
    with mock_aws():
        recording.install(path)
        try:
            yield path
        finally:
            recording.uninstall()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def ops(path: Path) -> list[tuple[str | None, str, str]]:
    return [(r["principal"], r["service"], r["operation"]) for r in lines(path)]


def test_every_kind_of_client_is_recorded(log: Path) -> None:
    boto3.client("dynamodb", region_name=REGION).list_tables()
    boto3.Session(region_name=REGION).client("kinesis").list_streams()
    botocore.session.get_session().create_client("s3", region_name=REGION).list_buckets()
    assert ops(log) == [
        (None, "dynamodb", "ListTables"),
        (None, "kinesis", "ListStreams"),
        (None, "s3", "ListBuckets"),
    ]


class Row(Model):
    class Meta:
        table_name = "rows"
        region = REGION

    pk = UnicodeAttribute(hash_key=True)


def test_pynamodb_calls_are_recorded_with_their_table(log: Path) -> None:
    Row.create_table(read_capacity_units=1, write_capacity_units=1, wait=True)
    token = recording.current_principal.set("recorder")
    try:
        Row(pk="a").save()
        Row.get("a")
    finally:
        recording.current_principal.reset(token)
    records = [r for r in lines(log) if r["operation"] in {"PutItem", "GetItem"}]
    assert [(r["principal"], r["operation"], r["params"]) for r in records] == [
        ("recorder", "PutItem", {"TableName": "rows"}),
        ("recorder", "GetItem", {"TableName": "rows"}),
    ]


def test_the_default_session_made_before_install_is_covered(tmp_path: Path) -> None:
    boto3.setup_default_session(region_name=REGION)  # exists before recording starts
    path = tmp_path / "calls.jsonl"
    with mock_aws():
        recording.install(path)
        try:
            boto3.client("dynamodb").list_tables()
        finally:
            recording.uninstall()
    assert ops(path) == [(None, "dynamodb", "ListTables")]


def test_principal_follows_the_invocation_into_worker_threads(log: Path) -> None:
    def call() -> None:
        boto3.client("dynamodb", region_name=REGION).list_tables()

    token = recording.current_principal.set("fanout")
    try:
        call()
        with ThreadPoolExecutor(max_workers=2) as pool:  # the sender's pool, say
            list(pool.map(lambda _: call(), range(2)))
        bare = threading.Thread(target=call)  # a bare thread starts from an empty context
        bare.start()
        bare.join()
    finally:
        recording.current_principal.reset(token)
    assert [principal for principal, _, _ in ops(log)] == ["fanout", "fanout", "fanout", None]


def test_only_resource_names_reach_the_log(log: Path) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="hook", SecretString=SECRET_VALUE)["ARN"]
    secrets.get_secret_value(SecretId=arn)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": SECRET_VALUE}}}},
            {
                "ConditionCheck": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "x"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
    text = log.read_text()
    assert SECRET_VALUE not in text
    by_operation = {r["operation"]: r["params"] for r in lines(log)}
    assert by_operation["GetSecretValue"] == {"SecretId": arn}
    assert by_operation["TransactWriteItems"] == {
        "TransactItems": [
            {"kind": "Put", "TableName": "t"},
            {"kind": "ConditionCheck", "TableName": "t"},
        ]
    }
    assert by_operation["BatchWriteItem"] == {"RequestItems": {"t": ["PutRequest"]}}


def test_get_records_names_the_stream_its_iterator_came_from(log: Path) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="journal", ShardCount=1)
    shard = kinesis.list_shards(StreamName="journal")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="journal", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    first = kinesis.get_records(ShardIterator=iterator["ShardIterator"])
    kinesis.get_records(ShardIterator=first["NextShardIterator"])
    reads = [r["params"] for r in lines(log) if r["operation"] == "GetRecords"]
    assert reads == [{"StreamName": "journal"}, {"StreamName": "journal"}]


def test_the_management_api_endpoint_is_recorded_without_the_operations_path(log: Path) -> None:
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/live"
    client = boto3.client("apigatewaymanagementapi", region_name=REGION, endpoint_url=endpoint)
    client.post_to_connection(ConnectionId="Ab=c", Data=b"x")
    (record,) = lines(log)
    assert (record["signing_name"], record["endpoint"], record["params"]) == (
        "execute-api",
        endpoint,
        {"ConnectionId": "Ab=c"},
    )


def test_uninstall_stops_recording_and_restores_executors(tmp_path: Path) -> None:
    original = ThreadPoolExecutor.submit
    path = tmp_path / "calls.jsonl"
    with mock_aws():
        recording.install(path)
        assert ThreadPoolExecutor.submit is not original
        boto3.client("dynamodb", region_name=REGION).list_tables()
        recording.uninstall()
        boto3.client("dynamodb", region_name=REGION).list_tables()
    assert ThreadPoolExecutor.submit is original
    assert len(lines(path)) == 1
    assert recording.installed() is None
    assert recording.command(["-m", "x"], principal="engine") == [sys.executable, "-m", "x"]


def test_a_child_process_records_to_the_same_log_as_its_principal(
    log: Path, tmp_path: Path
) -> None:
    (tmp_path / "child_calls.py").write_text(
        "import boto3\nfrom moto import mock_aws\n"
        "with mock_aws():\n"
        "    c = boto3.client('secretsmanager', region_name='us-east-1')\n"
        f"    c.create_secret(Name='s', SecretString={SECRET_VALUE!r})\n"
        "    for _ in range(50):\n"
        "        c.get_secret_value(SecretId='s')\n"
    )
    command = recording.command(["-m", "child_calls"], principal="engine")
    assert command[:3] == [sys.executable, "-m", "local.recording"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    child = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(50):  # this process appends meanwhile: no line may interleave
        boto3.client("dynamodb", region_name=REGION).list_tables()
    assert child.wait(timeout=60) == 0
    records = lines(log)
    assert SECRET_VALUE not in log.read_text()
    assert sum(r["operation"] == "ListTables" and r["principal"] is None for r in records) == 50
    child_reads = [r for r in records if r["operation"] == "GetSecretValue"]
    assert len(child_reads) == 50
    assert {r["principal"] for r in child_reads} == {"engine"}
    assert {r["pid"] for r in child_reads} == {child.pid}


def test_install_from_environment(tmp_path: Path) -> None:
    assert recording.install_from_environment(environ={}) is None
    path = tmp_path / "calls.jsonl"
    try:
        assert (
            recording.install_from_environment(
                "engine", environ={recording.CALL_LOG_ENV: str(path)}
            )
            == path
        )
        assert recording.installed() == path
    finally:
        recording.uninstall()


def test_the_wrapper_refuses_a_malformed_command_line() -> None:
    with pytest.raises(SystemExit, match="usage"):
        recording.main(["--log", "x.jsonl", "engine_service"])


def test_a_kms_calls_encryption_context_is_recorded_and_its_plaintext_is_not(log: Path) -> None:
    # The kms:EncryptionContext* condition keys are evaluated from the request's context ("AWS
    # KMS condition keys"), so the fidelity check needs it; the plaintext must never be logged.
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"key_id": "ak_fidelity1", "account_id": "alice"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=SECRET_VALUE.encode(), EncryptionContext=context)
    kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], KeyId=key_id, EncryptionContext=context)
    assert SECRET_VALUE not in log.read_text()
    by_operation = {r["operation"]: r["params"] for r in lines(log)}
    assert by_operation["Encrypt"] == {"KeyId": key_id, "EncryptionContext": context}
    assert by_operation["Decrypt"] == {"KeyId": key_id, "EncryptionContext": context}
