"""Admin actions end to end through the admin handler, on the function's own composition
(``lambdas.admin.handler.compose``): the instruments store and the audit chains on moto, the
ledger on PostgreSQL, the commands on RabbitMQ, read back from the shards' queues."""

from collections.abc import Iterator
from typing import Any

import pytest

from exchange import wire
from exchange.admin.audit import OPERATORS_PARTITION, verify_operators_log
from exchange.admin.audit_dynamo import DynamoAuditChains
from exchange.admin.service import AdminService
from exchange.apikeys.audit import security_partition, verify_security_log
from exchange.domain import InstrumentCatalog
from exchange.domain.commands import FreezeAccount, ListInstrument, SetTradingStatus
from exchange.instruments.composition import live_catalog
from exchange.instruments.store_dynamo import DynamoInstrumentStore
from exchange.ledger.model import KycStatus
from exchange.ledger.postgres import PostgresLedger
from exchange.messaging import ShardMap
from exchange.orders.publisher import RabbitCommandSink
from exchange.settings import DEFAULT_ASSET_SCALES
from exchange.tables import bind_tables
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.admin.handler import ROOT, compose, handler
from tests.integration.admin.conftest import Aws, Broker, aws_settings, create_tables
from tests.unit.api.conftest import Reply

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
DEMO = ["BTC-USD", "ETH-USD", "SOL-USD"]
OPERATOR = {"sub": "sub-olga", "username": "olga", "token_use": "access",
            "cognito:groups": "operators"}  # fmt: skip
ACME = {"base": "ACME", "quote": "USD", "tick_size": "0.01", "lot_size": "1", "min_qty": "1",
        "max_qty": "10000", "price_band_pct": "10", "reference_price": "25.00",
        "asset_class": "EQUITY"}  # fmt: skip


@pytest.fixture
def admin(moto: Any, broker: Broker, fresh_database: str, pool: Any) -> Iterator[AdminService]:
    """The function's composition, with the ledger on the test database's pool and a sink
    closed after the test."""
    settings = aws_settings(
        database_url=fresh_database,
        broker_url=broker.url,
        shards={broker.shards[0]: DEMO, broker.shards[1]: []},
    )
    create_tables(moto, settings)
    bind_tables(settings)
    catalog = live_catalog(settings)
    sink = RabbitCommandSink.from_settings(
        settings, connection_name="admin-test", shard_fallback=catalog.shard_for
    )
    ledger = PostgresLedger(pool, instruments=catalog, asset_scales=DEFAULT_ASSET_SCALES)
    service = compose(settings, sink=sink, ledger=ledger, catalog=catalog)
    DynamoInstrumentStore().seed(
        InstrumentCatalog.demo(), ShardMap(settings.shards or {}), now_ns=1
    )
    ROOT.use_settings(settings)
    try:
        yield service
    finally:
        ROOT.reset()
        sink.close()


def call(admin: AdminService, method: str, path: str, resource: str, **kwargs: Any) -> Reply:
    params = {
        name[1:-1]: value
        for name, value in zip(resource.split("/"), path.split("/"), strict=True)
        if name.startswith("{")
    }
    event = rest_event(
        method, path, resource=resource, path_parameters=params or None, claims=OPERATOR, **kwargs
    )
    return Reply.of(handler(event, LambdaContextStub(), admin=admin))


def open_user(pool: Any, account_id: str) -> None:
    ledger = PostgresLedger(
        pool, instruments=InstrumentCatalog.demo(), asset_scales=DEFAULT_ASSET_SCALES
    )
    ledger.open_account(account_id, kyc_status=KycStatus.VERIFIED)


def test_a_freeze_reaches_the_ledger_then_every_shard_and_both_audit_chains(
    admin: AdminService, broker: Broker, pool: Any
) -> None:
    open_user(pool, "alice-e2e")
    reply = call(
        admin,
        "POST",
        "/v1/admin/accounts/alice-e2e/freeze",
        "/v1/admin/accounts/{account_id}/freeze",
        body={"reason": "AML hold, case 7"},
    )
    assert reply.status == 202, reply.body
    assert reply.body["complete"] is True
    # The ledger refuses the account from now on
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT frozen FROM ledger.accounts WHERE account_id = %s", ("alice-e2e",)
        ).fetchone()
    assert row == (True,)
    # Each demo symbol's engine got its FreezeAccount, with the command id the answer names
    decoded = [wire.decode_command(body) for body in broker.drain(broker.shards[0])]
    commands = [c for c in decoded if isinstance(c, FreezeAccount) and c.frozen]
    assert len(commands) == len(decoded)
    assert {c.symbol for c in commands} == set(DEMO)
    assert {c.command_id for c in commands} == {c["command_id"] for c in reply.body["commands"]}
    # And the action is in the operators' chain and in the account's, both whole
    audit = DynamoAuditChains()
    assert verify_operators_log(audit.entries(OPERATORS_PARTITION)).ok
    account_chain = list(audit.entries(security_partition("alice-e2e")))
    assert [e.kind for e in account_chain] == ["admin_account_frozen"]
    assert verify_security_log("alice-e2e", account_chain).ok


def test_a_listing_goes_to_the_least_loaded_shard_and_the_kill_switch_reaches_it(
    admin: AdminService, broker: Broker
) -> None:
    # When ACME-USD is listed
    listed = call(
        admin,
        "PUT",
        "/v1/admin/instruments/ACME-USD",
        "/v1/admin/instruments/{symbol}",
        body={"instrument": ACME, "reason": "list ACME"},
    )
    assert listed.status == 202, listed.body
    assert listed.body["listing"]["shard"] == broker.shards[1]
    # Then the empty shard's engine got its ListInstrument (routed by the live catalog)
    (command,) = [wire.decode_command(body) for body in broker.drain(broker.shards[1])]
    assert isinstance(command, ListInstrument)
    assert (command.command_id, command.version) == ("list:ACME-USD:1", 1)
    # And the kill switch halts the new symbol with the others
    halted = call(
        admin,
        "POST",
        "/v1/admin/kill-switch",
        "/v1/admin/kill-switch",
        body={"status": "HALTED", "reason": "market-wide incident"},
    )
    assert halted.status == 202, halted.body
    sent = [wire.decode_command(b) for shard in broker.shards for b in broker.drain(shard)]
    assert {c.symbol for c in sent} == {*DEMO, "ACME-USD"}
    assert all(isinstance(c, SetTradingStatus) and c.status == "HALTED" for c in sent)
    page = call(admin, "GET", "/v1/admin/audit", "/v1/admin/audit")
    assert [e["kind"] for e in page.body["entries"]] == [
        "admin_kill_switch",
        "admin_instrument_listed",
    ]
    assert page.body["verified"] is True


def test_the_tables_made_here_are_the_specs(aws: Aws) -> None:
    names = set(aws.dynamodb.list_tables()["TableNames"])
    assert {aws.settings.audit_table, aws.settings.instruments_table} <= names
