"""``exchange dr``: fail the exchange over to the DR region, fail it back, and see where it is.

    exchange dr failover --reason "us-east-1 API down since 09:12"   # asks to confirm
    exchange dr failover --primary-unreachable --reason "..." --yes  # us-east-1 does not answer
    exchange dr failback --reason "us-east-1 healthy again"
    exchange dr status                                                # the fence and the runs

``failover`` and ``failback`` start the DR region's state machine (``exchange-<env>-failover`` or
``exchange-<env>-failback`` in us-west-2; docs/deploy.md, "Disaster recovery") with boto3 and your
AWS credentials, not the exchange's sign-in (the exchange may be what is down), then print each
state it enters until it ends (``--no-wait``: print the execution and return). The reason, with
who ran it, is kept on the fencing record. ``--primary-unreachable`` is the only way the failover
skips stopping the primary's engines: say it only when us-east-1 cannot be reached.

``status`` prints which region holds the fence (the ``failover`` table's record: region, epoch,
when, why) and the latest executions of both runbooks.

Exit codes: 0 done; 1 the execution failed, timed out or was aborted (its error, naming the
step, and cause on stderr: fix what it names, then redrive it from the failed step with ``aws
stepfunctions redrive-execution --execution-arn ...``); 2 bad usage, or not confirmed.
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import boto3

from exchange_client.render import table

RUNBOOKS: Final = ("failover", "failback")
DEFAULT_REGION: Final = "us-west-2"
DEFAULT_PRIMARY_REGION: Final = "us-east-1"
FENCE_SCOPE: Final = "exchange"
MAX_REASON: Final = 500
ENDED: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
NOT_CONFIRMED: Final = 2

Session = Callable[..., Any]  # boto3.session.Session, or a test's


def add_parser(dr: argparse.ArgumentParser) -> None:
    """The ``dr`` subcommands, on the parser ``exchange dr`` gets."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--environment",
        default=os.environ.get("EXCHANGE_ENVIRONMENT", "prod"),
        help="the deployment (state machines exchange-<environment>-...; default prod)",
    )
    where.add_argument(
        "--region",
        default=os.environ.get("EXCHANGE_DR_REGION", DEFAULT_REGION),
        help=f"the DR region, where the state machines run (default {DEFAULT_REGION})",
    )
    actions = dr.add_subparsers(dest="action", required=True)
    for name, what in (("failover", "to the DR region"), ("failback", "to the primary region")):
        runbook = actions.add_parser(name, parents=[where], help=f"move the exchange {what}")
        runbook.add_argument("--reason", help="why (kept on the fencing record, with who)")
        runbook.add_argument("--yes", action="store_true", help="do not ask to confirm")
        runbook.add_argument("--no-wait", action="store_true", help="start it and return")
        runbook.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
        if name == "failover":
            runbook.add_argument(
                "--primary-unreachable",
                action="store_true",
                help="the primary region cannot be reached: do not try to stop its engines",
            )
    status = actions.add_parser("status", parents=[where], help="the fence and recent runs")
    status.add_argument(
        "--primary-region",
        default=os.environ.get("EXCHANGE_PRIMARY_REGION", DEFAULT_PRIMARY_REGION),
        help="shown as the active region while no failover ever happened",
    )
    status.add_argument("--limit", type=int, default=3, help="executions per runbook")


def run(
    args: argparse.Namespace,
    *,
    session: Session = boto3.session.Session,
    sleep: Callable[[float], None] = time.sleep,
    confirm: Callable[[str], str] = input,
) -> int:
    """Run one ``exchange dr`` command; its exit code."""
    aws = session(region_name=args.region)
    if args.action == "status":
        return _status(aws, args)
    identity = aws.client("sts").get_caller_identity()
    if not args.yes:
        where = args.region if args.action == "failover" else "the primary region"
        answer = confirm(f"Type {args.environment!r} to {args.action} the exchange to {where}: ")
        if answer.strip() != args.environment:
            print("not confirmed: nothing started", file=sys.stderr)
            return NOT_CONFIRMED
    runbook = state_machine_arn(args.region, identity["Account"], args.environment, args.action)
    execution = aws.client("stepfunctions").start_execution(
        stateMachineArn=runbook,
        name=f"{args.action}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        input=json.dumps(execution_input(args, identity["Arn"])),
    )
    arn = execution["executionArn"]
    print(f"started {arn}")
    print(f"  https://{args.region}.console.aws.amazon.com/states/home?region={args.region}"
          f"#/v2/executions/details/{arn}")  # fmt: skip
    if args.no_wait:
        return 0
    return follow(aws.client("stepfunctions"), arn, every=args.poll_seconds, sleep=sleep)


def state_machine_arn(region: str, account: str, environment: str, runbook: str) -> str:
    """The runbook's state machine, by the name the CDK app gives it.

    >>> state_machine_arn("us-west-2", "111111111111", "prod", "failover")
    'arn:aws:states:us-west-2:111111111111:stateMachine:exchange-prod-failover'
    """
    return f"arn:aws:states:{region}:{account}:stateMachine:exchange-{environment}-{runbook}"


def execution_input(args: argparse.Namespace, caller: str) -> dict[str, Any]:
    """The state machine's input: the reason, with who ran it (at most ``MAX_REASON``)."""
    why = (args.reason or f"exchange dr {args.action}").strip()
    suffix = f" [by {caller}]"
    payload: dict[str, Any] = {"reason": why[: MAX_REASON - len(suffix)] + suffix}
    if getattr(args, "primary_unreachable", False):
        payload["primaryUnreachable"] = True
    return payload


def follow(
    client: Any, arn: str, *, every: float, sleep: Callable[[float], None] = time.sleep
) -> int:
    """Print each state the execution enters until it ends; 0 if it succeeded, else 1."""
    seen = 0
    while True:
        execution = client.describe_execution(executionArn=arn)
        seen = _print_states(client, arn, seen)
        if execution["status"] in ENDED:
            break
        sleep(every)
    status = execution["status"]
    if status == "SUCCEEDED":
        print(f"{status}: {execution.get('output', '')}")
        return 0
    error, cause = execution.get("error", ""), execution.get("cause", "")
    print(f"{status}: {error}: {cause}".rstrip(": "), file=sys.stderr)
    return 1


def _print_states(client: Any, arn: str, seen: int) -> int:
    """Print the states entered after event ``seen``; the last event's id."""
    pages = client.get_paginator("get_execution_history").paginate(executionArn=arn)
    for page in pages:
        for event in page["events"]:
            if event["id"] <= seen:
                continue
            seen = event["id"]
            entered = event.get("stateEnteredEventDetails")
            if entered is not None:
                print(f"  {event['timestamp']:%H:%M:%S}  {entered['name']}", flush=True)
    return seen


def _status(aws: Any, args: argparse.Namespace) -> int:
    table_name = f"exchange-{args.environment}-failover"
    item = (
        aws.client("dynamodb")
        .get_item(TableName=table_name, Key={"scope": {"S": FENCE_SCOPE}}, ConsistentRead=True)
        .get("Item")
    )
    if item is None:
        print(f"active region: {args.primary_region} (epoch 0: never failed over)")
    else:
        updated = int(item.get("updated_ns", {}).get("N", "0"))
        when = datetime.fromtimestamp(updated / 1e9, UTC).isoformat(timespec="seconds")
        print(f"active region: {item['active_region']['S']} (epoch {item['epoch']['N']},"
              f" since {when})")  # fmt: skip
        print(f"reason: {item.get('reason', {}).get('S', '')}")
    account = aws.client("sts").get_caller_identity()["Account"]
    sfn = aws.client("stepfunctions")
    rows = []
    for runbook in RUNBOOKS:
        arn = state_machine_arn(args.region, account, args.environment, runbook)
        executions = sfn.list_executions(stateMachineArn=arn, maxResults=args.limit)
        for execution in executions["executions"]:
            started, stopped = execution["startDate"], execution.get("stopDate")
            rows.append([
                runbook, execution["name"], execution["status"], f"{started:%Y-%m-%d %H:%M:%S}",
                f"{stopped:%H:%M:%S}" if stopped else "",
            ])  # fmt: skip
    print(table(["runbook", "execution", "status", "started", "stopped"], rows))
    return 0
