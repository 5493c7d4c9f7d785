"""``exchange dr``: failover and failback start the DR region's state machine by its name (moto's
Step Functions, STS and DynamoDB), with the reason and who ran it, the failover's
``primaryUnreachable`` only when asked; they ask to confirm, follow the execution to its end and
exit 0 only if it succeeded (1 with the failed step's error on stderr); ``status`` shows the
fencing record and the latest executions.

moto records executions without running them ("RUNNING" until told otherwise): the test's sleep
ends them, as the state machine would."""

import argparse
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.models import stepfunctions_backends

from exchange_client import cli, dr_cli

REGION = "us-west-2"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/runbook"


@pytest.fixture
def aws() -> Iterator[Any]:
    """The DR region in moto with both runbooks' state machines, named as the CDK app names them."""
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for runbook in dr_cli.RUNBOOKS:
            sfn.create_state_machine(name=f"exchange-prod-{runbook}", definition="{}", roleArn=ROLE)
        yield sfn


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    dr_cli.add_parser(parser)
    return parser.parse_args(list(argv))


def ends(status: str, **fields: str) -> Callable[[float], None]:
    """A sleep that ends every running execution with ``status`` (and its output or error)."""

    def sleep(seconds: float) -> None:
        assert seconds == 5.0
        backend = stepfunctions_backends[DEFAULT_ACCOUNT_ID][REGION]
        for machine in backend.state_machines:
            for execution in machine.executions:
                execution.status = status
                execution.stop_date = datetime.now(UTC)
                for name, value in fields.items():
                    setattr(execution, name, value)

    return sleep


def executions(sfn: Any, runbook: str) -> list[dict[str, Any]]:
    arn = dr_cli.state_machine_arn(REGION, DEFAULT_ACCOUNT_ID, "prod", runbook)
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=arn)["executions"]
    return found


def started_input(sfn: Any, runbook: str) -> dict[str, Any]:
    (execution,) = executions(sfn, runbook)
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    payload: dict[str, Any] = json.loads(described["input"])
    return payload


def test_failover_starts_the_dr_state_machine_and_follows_it_to_success(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an operator fails over, saying the primary cannot be reached
    args = parse("failover", "--yes", "--primary-unreachable", "--reason", "us-east-1 is down")
    output = json.dumps({"activeRegion": "us-west-2", "epoch": 1})
    code = dr_cli.run(args, sleep=ends("SUCCEEDED", output=output))
    # Then the failover state machine of us-west-2 ran with the reason, who, and the flag
    assert code == 0
    (execution,) = executions(aws, "failover")
    assert execution["name"].startswith("failover-")
    assert started_input(aws, "failover") == {
        "reason": f"us-east-1 is down [by arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto]",
        "primaryUnreachable": True,
    }
    assert executions(aws, "failback") == []
    # And the operator saw it start, each state it entered, and how it ended
    out = capsys.readouterr().out
    assert f"started {execution['executionArn']}" in out
    assert "A State" in out  # moto's history: one state entered
    assert f"SUCCEEDED: {output}" in out


def test_the_primary_is_stopped_unless_the_operator_says_it_is_unreachable(aws: Any) -> None:
    assert dr_cli.run(parse("failover", "--yes", "--no-wait")) == 0
    assert started_input(aws, "failover") == {
        "reason": f"exchange dr failover [by arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto]"
    }


def test_a_failed_run_exits_1_naming_the_failed_step(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse("failback", "--yes", "--reason", "primary healthy again")
    code = dr_cli.run(
        args,
        sleep=ends("FAILED", error="SwitchoverAuroraFailed", cause="Rds.InvalidGlobalClusterState"),
    )
    assert code == 1
    assert (
        "FAILED: SwitchoverAuroraFailed: Rds.InvalidGlobalClusterState" in capsys.readouterr().err
    )
    assert started_input(aws, "failback") == {
        "reason": f"primary healthy again [by arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto]"
    }


def test_nothing_starts_unless_the_environment_is_typed_to_confirm(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []

    def confirm(prompt: str) -> str:
        prompts.append(prompt)
        return "dev"

    assert dr_cli.run(parse("failover", "--reason", "drill"), confirm=confirm) == 2
    assert prompts == ["Type 'prod' to failover the exchange to us-west-2: "]
    assert executions(aws, "failover") == []
    assert "not confirmed" in capsys.readouterr().err
    # And typed, it starts
    confirmed = dr_cli.run(parse("failover", "--no-wait"), confirm=lambda _: "prod")
    assert confirmed == 0
    assert len(executions(aws, "failover")) == 1


def test_a_long_reason_is_cut_to_what_the_state_machine_takes(aws: Any) -> None:
    dr_cli.run(parse("failover", "--yes", "--no-wait", "--reason", "x" * 600))
    reason = started_input(aws, "failover")["reason"]
    assert len(reason) == dr_cli.MAX_REASON
    assert reason.endswith(f"[by arn:aws:sts::{DEFAULT_ACCOUNT_ID}:user/moto]")


def test_status_shows_the_fence_and_the_latest_runs(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no fencing record yet, then one written by a failover, and one failover run
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="exchange-prod-failover",
        KeySchema=[{"AttributeName": "scope", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "scope", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert dr_cli.run(parse("status")) == 0
    assert "active region: us-east-1 (epoch 0: never failed over)" in capsys.readouterr().out
    dynamodb.put_item(
        TableName="exchange-prod-failover",
        Item={
            "scope": {"S": "exchange"},
            "active_region": {"S": "us-west-2"},
            "epoch": {"N": "2"},
            "updated_ns": {"N": "1767225600000000000"},
            "reason": {"S": "drill (failover-20260101T000000Z)"},
        },
    )
    dr_cli.run(parse("failover", "--yes", "--no-wait", "--reason", "drill"))
    # When the operator asks
    assert dr_cli.run(parse("status")) == 0
    # Then the record and the run are shown
    out = capsys.readouterr().out
    assert "active region: us-west-2 (epoch 2, since 2026-01-01T00:00:00+00:00)" in out
    assert "reason: drill (failover-20260101T000000Z)" in out
    (execution,) = executions(aws, "failover")
    row = next(line for line in out.splitlines() if line.startswith("failover "))
    assert execution["name"] in row
    assert "RUNNING" in row


def test_the_exchange_command_runs_dr_without_signing_in_to_the_exchange(aws: Any) -> None:
    # `exchange dr` needs AWS credentials only: no session file, no API URL
    assert cli.main(["dr", "failback", "--yes", "--no-wait", "--reason", "drill"]) == 0
    assert len(executions(aws, "failback")) == 1
