"""The IAM fidelity check, end to end: the local stack records every AWS API call each function
and the engine makes (``local.recording``, switched on by ``EXCHANGE_LOCAL_AWS_CALL_LOG``) while a
representative session runs through public interfaces only (sign-up, the KYC and deposit
webhooks, orders placed, filled, amended and cancelled, market data over REST and the WebSocket,
the journal consumers catching up, a withdrawal paid out, the notices emailed); then each call,
translated to the deployment (``tests.fidelity.translate``), is checked against its principal's
policies in the synthesized primary-region template (``tests.fidelity.check``). A call the
deployed role would refuse, one that cannot be translated or mapped to IAM, or a principal the
template does not have fails.

This module starts a stack of its own (the shared one is started without the log) and stops it
before checking, so the engine's shutdown snapshot is in the log too.
"""

import asyncio
import concurrent.futures
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import pytest

from exchange_client import ApiKey, ExchangeClient, MarketStream
from lambdas.catalog import FUNCTIONS, Trigger
from local import recording
from local.aws import CANCEL_AFTER_QUEUE
from local.process import StackFailed, running_stack
from tests.e2e.conftest import LocalStack, _service_environment, eventually
from tests.fidelity.actions import Call
from tests.fidelity.cfn import Stacks, StackTemplate
from tests.fidelity.check import Checker, read_calls
from tests.fidelity.deployment import ENGINE, Deployment, without_action
from tests.fidelity.synth import synthesize
from tests.fidelity.translate import LocalNames, Translation, translation_lines

D = Decimal
PRIMARY: Final = "Exchange-prod-primary"
# The local stack's own calls (no principal), each standing for what does it in AWS; anything
# else without a principal fails the check (a function's call that escaped its attribution).
PLATFORM_OPERATIONS: Final[Mapping[tuple[str, str], str]] = {
    ("dynamodb", "CreateTable"): "CloudFormation creates the tables",
    ("dynamodb", "UpdateTimeToLive"): "CloudFormation sets each table's TTL",
    ("kinesis", "CreateStream"): "CloudFormation creates the journal",
    ("s3", "CreateBucket"): "CloudFormation creates the snapshot and reports buckets",
    ("s3", "PutBucketVersioning"): "CloudFormation versions it",
    ("secretsmanager", "CreateSecret"): "CloudFormation creates the secrets",
    ("cognito-idp", "CreateUserPool"): "CloudFormation creates the user pool",
    ("cognito-idp", "CreateUserPoolClient"): "CloudFormation creates its app client",
    ("cognito-idp", "CreateGroup"): "CloudFormation creates the operators group",
    ("cognito-idp", "AdminAddUserToGroup"): "an administrator makes a user an operator",
    ("cognito-idp", "AdminListGroupsForUser"): "an administrator checks the user's groups",
    ("cognito-idp", "AdminConfirmSignUp"): "the operator confirms a sign-up",
    ("cognito-idp", "AdminGetUser"): "the operator looks the user up",
    ("cognito-idp", "AdminCreateUser"): "the operator creates a user",
    ("cognito-idp", "AdminSetUserPassword"): "the operator sets a password",
    ("cognito-idp", "AdminUpdateUserAttributes"): "the operator sets an attribute",
    ("kinesis", "DescribeStream"): "Lambda's event source mappings find the shards",
    ("kinesis", "ListShards"): "Lambda's event source mappings find the shards",
    ("kinesis", "GetShardIterator"): "Lambda's event source mappings read the journal",
    ("kinesis", "GetRecords"): "Lambda's event source mappings read the journal",
    ("kms", "CreateKey"): "CloudFormation creates the API-key key",
    ("kms", "CreateAlias"): "CloudFormation names it",
    ("sqs", "CreateQueue"): "CloudFormation creates the timer queue and its dead-letter queue",
    ("sqs", "GetQueueAttributes"): "CloudFormation reads the dead-letter queue's ARN",
    ("sns", "CreateTopic"): "CloudFormation creates the notifications topic",
    ("sns", "Subscribe"): "CloudFormation subscribes the notifications queue to it",
    ("sesv2", "CreateEmailIdentity"): "CloudFormation creates the sender's identity",
    ("sesv2", "CreateConfigurationSet"): "CloudFormation creates the configuration set",
}
# Who must show up in the log: the functions this session drives, and the engine.
EXERCISED: Final = frozenset(
    {
        "orders",
        "deposits",
        "recorder",
        "fanout",
        "candles",
        "ws_connections",
        "ws_messages",
        "ws_authorizer",
        "rest_authorizer",
        "api_keys",
        "cancel_after",
        "notifier",  # each fill, published to the notifications topic
        "emailer",  # the deposit's notice, emailed through SES (and the fills' skipped)
        "account",  # a withdrawal, sent to the payout queue
        "payouts",  # its payout: the provider's secret read, the notices relayed
        ENGINE,
    }
)


@dataclass(frozen=True)
class Recorded:
    state: dict[str, Any]
    calls: list[Call]
    stacks: Stacks

    def checker(self, stacks: Stacks | None = None) -> Checker:
        deployment = Deployment(stacks or self.stacks, PRIMARY)
        timers = [url for url in self.state["queues"].values() if url.endswith(CANCEL_AFTER_QUEUE)]
        settings: dict[str, str] = self.state.get("settings", {})
        local = LocalNames.of_local_stack(
            api_url=self.state["api_url"],
            user_pool_id=self.state["user_pool_id"],
            api_key_kms_key_id=self.state["api_key_kms_key_arn"],
            cancel_after_queue_url=timers[0] if timers else None,
            payout_queue_url=settings.get("payout_queue_url"),
            notifications_topic=settings.get("notifications_topic_arn"),
            payout_provider_secret=settings.get("payout_provider_secret_arn"),
            email_sender=settings.get("email_sender"),
            email_configuration_set=settings.get("email_configuration_set"),
        )
        return Checker(deployment, Translation.of(local, deployment))


async def representative_session(stack: LocalStack) -> None:
    """Two users trade through every public interface; returns once the consumers caught up."""
    seller, seller_id = await stack.signup()
    buyer, buyer_id = await stack.signup()
    await stack.deposit(seller_id, "BTC", D("1"))
    await stack.deposit(buyer_id, "USD", D("20000"))
    await eventually(buyer.balances, lambda b: any(x.asset == "USD" for x in b))
    stream = MarketStream(stack.config.ws_url, token=seller.auth.access_token)
    await stream.start()
    await stream.wait_connected()
    for channel in ("trades.BTC-USD", "book.BTC-USD", "candles.BTC-USD.1m", "orders"):
        await stream.subscribe(channel)
    sell = await seller.place_order("BTC-USD", "sell", "0.5", "65000.00")
    await eventually(lambda: seller.get_order(sell.order_id), lambda o: o.status == "NEW")
    await seller.amend_order(sell.order_id, qty="0.4", price="65000.00")
    buy = await buyer.place_order("BTC-USD", "buy", "0.2", "65100.00")
    await eventually(lambda: buyer.get_order(buy.order_id), lambda o: o.status == "FILLED")
    await seller.cancel_order(sell.order_id)
    await eventually(lambda: seller.get_order(sell.order_id), lambda o: o.status == "CANCELLED")
    trade = None
    while trade is None:
        event = await stream.next_event(timeout_s=20)
        trade = event if event.kind == "trades" else None
    await eventually(lambda: buyer.list_fills(order_id=buy.order_id), lambda f: bool(f.items))
    await eventually(
        seller.balances, lambda b: any(x.asset == "USD" and x.available > 0 for x in b)
    )
    await read_everything(seller)
    await stream.unsubscribe("book.BTC-USD")
    await stream.close()
    await withdraw(buyer)
    await as_a_program(stack, buyer)
    for client in (seller, buyer):
        await client.close()


async def withdraw(user: ExchangeClient) -> None:
    """Money out: a destination, its (local) delay waited out, a withdrawal the payout worker
    sends to the fake provider, completed by its webhook."""
    bank = await user.add_destination("USD", "GB82 WEST 1234 5698 7654 32", kind="BANK")
    await asyncio.sleep(max(0.0, (bank.usable_at - datetime.now(UTC)).total_seconds()) + 0.3)
    withdrawal = await user.withdraw("USD", "100", destination_id=bank.destination_id)
    await eventually(
        functools.partial(user.get_withdrawal, withdrawal.withdrawal_id),
        lambda w: w.status == "COMPLETED",
        timeout_s=30,
    )


async def as_a_program(stack: LocalStack, user: ExchangeClient) -> None:
    """A bot with an API key (KMS Encrypt at creation, Decrypt in both authorizers): it signs
    REST requests and a WebSocket connect, arms the dead man's switch (SQS), lets it fire (the
    timer function cancels its order) and has its key revoked."""
    created = await user.create_api_key("fidelity-bot", scopes=["read", "trade"])
    key = ApiKey(created.key_id, created.secret)
    async with ExchangeClient(user.config, api_key=key) as bot:
        await bot.balances()
        await bot.server_time()
        await bot.assets()
        await bot.tickers()
        await bot.ticker("BTC-USD")
        resting = await bot.place_order("BTC-USD", "buy", "0.01", "64000.00")
        await eventually(lambda: bot.get_order(resting.order_id), lambda o: o.status == "NEW")
        await bot.cancel_after(5)
        await eventually(lambda: bot.get_order(resting.order_id), lambda o: o.status == "CANCELLED")
        async with MarketStream(stack.config.ws_url, api_key=key) as stream:
            await stream.wait_connected()
            await stream.subscribe("balances")
    await user.list_api_keys()
    await user.revoke_api_key(created.key_id)


async def read_everything(client: ExchangeClient) -> None:
    await client.account()
    await client.positions()
    await client.list_orders()
    await client.markets()
    await client.book("BTC-USD")
    await client.trades("BTC-USD")
    await client.candles("BTC-USD")
    await client.health()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    folder = tmp_path_factory.mktemp("fidelity")
    log = folder / "aws-calls.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EXCHANGE_", "POWERTOOLS_"))},
        **_service_environment(),
        recording.CALL_LOG_ENV: str(log),
    }
    embedded = ("--embedded",) if os.environ.get("EXCHANGE_E2E_EMBEDDED") == "1" else ()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        templates = pool.submit(synthesize, folder / "templates")  # meanwhile: ~25 s
        try:
            with running_stack(
                folder / "stack.json",
                folder / "stack.log",
                args=("--no-seed", "--archive-dir", str(folder / "archive"), *embedded),
                env=env,
            ) as state:
                asyncio.run(representative_session(LocalStack(state, folder / "stack.log")))
        except StackFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        stacks = templates.result()
    if not log.exists():
        pytest.fail(
            f"the stack wrote no call log: is {recording.CALL_LOG_ENV} wired (local.recording)?"
        )
    return Recorded(state, read_calls(log), stacks)


def test_every_recorded_call_is_allowed_by_the_deployed_policies(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    checker = recorded.checker()
    print("\n".join(translation_lines(checker.translation.rows())))
    report = checker.check(recorded.calls)
    for principal, action, resource in sorted(report.triples):
        print(f"  {principal:15} {action:32} {resource}")
    with capsys.disabled():  # in every run's log, not only a failing one's
        print(f"\nIAM fidelity (e2e): {report.summary()}")
    assert report.problems == [], "\n".join(report.problems)
    unexpected = {op: n for op, n in report.unattributed.items() if op not in PLATFORM_OPERATIONS}
    assert unexpected == {}, "calls without a principal that the stack itself does not make"
    principals = {principal for principal, _, _ in report.triples}
    assert principals >= EXERCISED, f"never seen: {sorted(EXERCISED - principals)}"
    assert len(report.triples) >= 20


def test_a_permission_taken_out_of_the_template_fails_the_check(recorded: Recorded) -> None:
    # The orders function's PutItem on the orders table (placing an order writes it) goes.
    checker = recorded.checker()
    table = next(row.deployed for row in checker.translation.rows() if row.field == "orders_table")
    assert table is not None
    bodies = {name: stack.body for name, stack in recorded.stacks.stacks.items()}
    regions = {name: stack.region for name, stack in recorded.stacks.stacks.items()}
    stripped = without_action(bodies, PRIMARY, "orders", "dynamodb:PutItem", table)
    stacks = Stacks(StackTemplate(name, regions[name], body) for name, body in stripped.items())
    before = set(checker.check(recorded.calls).denied)
    after = set(recorded.checker(stacks).check(recorded.calls).denied)
    table_arn = (
        f"arn:aws:dynamodb:{checker.deployment.region}:{checker.deployment.account}:table/{table}"
    )
    assert after - before == {("orders", "dynamodb:PutItem", table_arn)}


def test_the_functions_the_session_drives_are_catalog_functions() -> None:
    # The session must drive real catalog functions of the triggers it claims to exercise.
    assert EXERCISED - {ENGINE} <= set(FUNCTIONS)
    assert {FUNCTIONS[name].trigger for name in EXERCISED - {ENGINE}} >= {
        Trigger.REST,
        Trigger.KINESIS,
        Trigger.WEBSOCKET,
    }
