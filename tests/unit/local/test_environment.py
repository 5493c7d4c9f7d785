"""Each hosted function's local environment: the variables the template deploys, with local
values; anything local mode cannot stand in for stops it."""

import json

import pytest

from exchange.settings import DepositsSettings, ReconciliationSettings, settings_from_environment
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS
from local.aws import AwsResources
from local.cfn import TemplateError
from local.engine import engine_settings
from local.environment import as_role, engine_environment, function_environment, settings_values
from local.notify import LocalTopic, configuration_set_name, topic_name
from local.template import DeployedFunction, DeployedTask, Deployment

AWS = AwsResources(
    endpoint_url="http://127.0.0.1:5000",
    table_names={spec.logical_name: f"exchange-{spec.logical_name}" for spec in TABLE_SPECS},
    journal_stream="exchange-events",
    journal_shards=1,
    snapshot_bucket="exchange-snapshots",
    reports_bucket="exchange-reports",
    user_pool_id="us-east-1_local",
    app_client_id="client",
    webhook_secret_arn="arn:aws:secretsmanager:us-east-1:000000000000:secret:webhook",  # noqa: S106
    webhook_secret="s3cret",  # noqa: S106 - a test value
    kyc_secret_arn="arn:aws:secretsmanager:us-east-1:000000000000:secret:kyc",  # noqa: S106
    kyc_secret="kyc-s3cret",  # noqa: S106 - a test value
    role_secret_arns={"exchange_orders": "arn:aws:secretsmanager:us-east-1:0:secret:r"},
    api_key_kms_key_arn="arn:aws:kms:us-east-1:000000000000:key/mrk-local",
    payout_provider_secret_arn="arn:aws:secretsmanager:us-east-1:0:secret:payout-provider",  # noqa: S106
    payout_provider_secret="provider-s3cret",  # noqa: S106 - a test value
)
DATABASE = "postgresql://postgres@127.0.0.1:5432/exchange_local"


def values(broker_url: str | None = "amqp://guest:guest@localhost:5672/%2F") -> dict[str, str]:
    return settings_values(
        AWS,
        gateway_url="http://127.0.0.1:8000",
        database_url=DATABASE,
        redis_url="redis://localhost:6379/0",
        broker_url=broker_url,
        snapshot_hmac_key="k" * 64,
    )


def deployed(name: str, environment: dict[str, object]) -> DeployedFunction:
    return DeployedFunction(name, f"{name}Fn", environment, 10, None)


def test_a_proxied_ledger_function_gets_the_local_database_as_its_own_role() -> None:
    function = deployed(
        "deposits",
        {
            "EXCHANGE_DATABASE_HOST": {"Fn::GetAtt": ["Proxy", "Endpoint"]},
            "EXCHANGE_DATABASE_PORT": "5432",
            "EXCHANGE_DATABASE_NAME": "exchange",
            "EXCHANGE_DATABASE_USER": "exchange_deposits",
            "EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN": {"Ref": "WebhookSecret"},
            "EXCHANGE_ENVIRONMENT": "prod",
            "POWERTOOLS_SERVICE_NAME": "deposits",
        },
    )
    env = function_environment(function, values())
    assert env["EXCHANGE_DATABASE_URL"] == as_role(DATABASE, "exchange_deposits")
    assert "user=exchange_deposits" in env["EXCHANGE_DATABASE_URL"]
    assert "EXCHANGE_DATABASE_HOST" not in env
    assert env["EXCHANGE_LEDGER_WEBHOOK_SECRET_ARN"] == AWS.webhook_secret_arn
    assert env["EXCHANGE_ENVIRONMENT"] == "local"
    assert env["POWERTOOLS_SERVICE_NAME"] == "deposits"
    settings = settings_from_environment(DepositsSettings, env)
    assert settings.database_user == "exchange_deposits"


def test_amazon_mq_becomes_the_local_broker_url_or_nothing_in_process() -> None:
    function = deployed(
        "reconciler",
        {
            "EXCHANGE_BROKER_ENDPOINT": {"Fn::GetAtt": ["Broker", "AmqpEndpoints"]},
            "EXCHANGE_BROKER_SECRET_ARN": {"Ref": "BrokerSecret"},
            "EXCHANGE_ORDERS_TABLE": "exchange-prod-orders",
        },
    )
    with_broker = function_environment(function, values())
    assert with_broker["EXCHANGE_BROKER_URL"].startswith("amqp://")
    assert "EXCHANGE_BROKER_ENDPOINT" not in with_broker
    assert with_broker["EXCHANGE_ORDERS_TABLE"] == "exchange-orders"  # the local table
    assert "EXCHANGE_BROKER_URL" not in function_environment(function, values(None))


def test_local_mode_is_one_region_so_settlement_waits_for_no_replica() -> None:
    """The primary's settlement settles behind the replication gate (``exchange.journal.gate``),
    waiting for us-west-2's events replica; locally there is no second region, and a gate on a
    region that does not exist would never settle anything."""
    function = deployed(
        "settlement",
        {
            "EXCHANGE_SETTLE_AFTER_REPLICA_REGION": "us-west-2",
            "EXCHANGE_EVENTS_TABLE": "exchange-prod-events",
        },
    )
    env = function_environment(function, values())
    assert "EXCHANGE_SETTLE_AFTER_REPLICA_REGION" not in env
    assert env["EXCHANGE_EVENTS_TABLE"] == "exchange-events"


def test_the_migrate_function_gets_the_admin_database_and_the_role_secrets() -> None:
    function = deployed(
        "migrate",
        {
            "EXCHANGE_DATABASE_SECRET_ARN": {"Ref": "AdminSecret"},
            "EXCHANGE_DATABASE_ROLE_SECRET_ARNS": {"Fn::Join": ["", ["{", {"Ref": "S"}, "}"]]},
        },
    )
    env = function_environment(function, values())
    assert env["EXCHANGE_DATABASE_URL"] == DATABASE
    assert json.loads(env["EXCHANGE_DATABASE_ROLE_SECRET_ARNS"]) == AWS.role_secret_arns


def test_a_variable_the_settings_do_not_read_stops_the_stack() -> None:
    with pytest.raises(TemplateError, match="EXCHANGE_NOT_A_SETTING"):
        function_environment(deployed("markets", {"EXCHANGE_NOT_A_SETTING": "x"}), values())


def test_an_intrinsic_with_no_local_stand_in_stops_the_stack() -> None:
    function = deployed("markets", {"EXCHANGE_TRADES_TABLE_TTL": {"Ref": "X"}})
    with pytest.raises(TemplateError):
        function_environment(function, values())
    function = deployed("orders", {"EXCHANGE_MAX_OPEN_ORDERS": {"Ref": "SomeParameter"}})
    with pytest.raises(TemplateError, match="no stand-in"):
        function_environment(function, values())


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment.load()  # synthesized once, then cached under .cache/local


def queue_stand_ins(deployment: Deployment) -> dict[str, dict[str, str]]:
    """The local queues', topics' and SES configuration sets' stand-ins, as the stack makes
    them (``local.sqs``, ``local.notify``)."""
    queues = {
        logical: {
            "Ref": f"http://127.0.0.1:5000/000000000000/exchange-{logical}",
            "Arn": f"arn:aws:sqs:us-east-1:000000000000:exchange-{logical}",
        }
        for logical in deployment.queues
    }
    topics = {
        logical: LocalTopic(logical, f"arn:aws:sns:us-east-1:000000000000:{topic_name(topic)}")
        for logical, topic in deployment.topics.items()
    }
    email = {
        logical: {"Ref": configuration_set_name(logical, name)}
        for logical, name in deployment.email.configuration_sets.items()
    }
    return {**queues, **{k: t.attributes for k, t in topics.items()}, **email}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_deployed_function_loads_its_settings_from_its_local_twin(
    deployment: Deployment, name: str
) -> None:
    env = function_environment(deployment.functions[name], values(), queue_stand_ins(deployment))
    spec = FUNCTIONS[name]
    settings = settings_from_environment(spec.settings, env)
    for logical in spec.tables:
        assert getattr(settings, f"{logical}_table") == f"exchange-{logical}"
    deployed_names = {v for v in deployment.functions[name].environment if v.startswith("EXCHANGE")}
    proxied = {"EXCHANGE_DATABASE_HOST", "EXCHANGE_DATABASE_PORT", "EXCHANGE_DATABASE_NAME"}
    amazon_mq = {"EXCHANGE_BROKER_ENDPOINT", "EXCHANGE_BROKER_SECRET_ARN"}
    # Secrets' ARNs locally replaced: the admin database's URL, the snapshot key itself
    replaced = {"EXCHANGE_DATABASE_SECRET_ARN", "EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN"}
    other_region = {"EXCHANGE_SETTLE_AFTER_REPLICA_REGION"}  # one region locally
    assert deployed_names - proxied - amazon_mq - replaced - other_region <= set(env)
    if "EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN" in deployed_names:
        assert env["EXCHANGE_SNAPSHOT_HMAC_KEY"] == "k" * 64


def test_the_engine_task_environment_is_the_deployed_one_made_local(deployment: Deployment) -> None:
    (task,) = deployment.engines.values()
    engine_values = {**values(), "journal_stream": "exchange-events", "health_port": "18080"}
    env = engine_environment(task, engine_values)
    assert env["EXCHANGE_SHARD_ID"] == task.shard
    assert env["EXCHANGE_BROKER_URL"].startswith("amqp://")
    assert env["EXCHANGE_SNAPSHOT_HMAC_KEY"] == "k" * 64  # the key, where AWS has its secret
    assert "EXCHANGE_SNAPSHOT_HMAC_SECRET_ARN" not in env
    assert env["EXCHANGE_HEALTH_PORT"] == "18080"
    # Deployed fenced (failover); one region locally, so nothing to fence against
    assert task.environment["EXCHANGE_FENCE"] == "true"
    assert "EXCHANGE_FENCE" not in env
    settings = engine_settings(env)
    assert (settings.journal_stream, settings.snapshot_bucket) == (
        "exchange-events",
        "exchange-snapshots",
    )
    unread = DeployedTask(task.shard, {**task.environment, "EXCHANGE_NOT_READ": "x"})
    with pytest.raises(TemplateError, match="EXCHANGE_NOT_READ"):
        engine_environment(unread, engine_values)
    # It reads the instruments store at start, so symbols listed at run time survive a restart
    assert settings.read_instruments_store is True
    assert settings.instruments_table == "exchange-instruments"


@pytest.mark.parametrize(
    "dropped", ["EXCHANGE_READ_INSTRUMENTS_STORE", "EXCHANGE_INSTRUMENTS_TABLE"]
)
def test_an_engine_task_that_would_forget_runtime_listings_stops_the_stack(dropped: str) -> None:
    deployed_task = {
        "EXCHANGE_SHARD_ID": "s1",
        "EXCHANGE_SYMBOLS": "BTC-USD",
        "EXCHANGE_READ_INSTRUMENTS_STORE": "true",
        "EXCHANGE_INSTRUMENTS_TABLE": {"Ref": "InstrumentsTable"},
    }
    engine_values = {**values(), "health_port": "18080"}
    assert (
        engine_environment(DeployedTask("s1", deployed_task), engine_values)[
            "EXCHANGE_INSTRUMENTS_TABLE"
        ]
        == "exchange-instruments"
    )
    del deployed_task[dropped]
    with pytest.raises(TemplateError, match="instruments store"):
        engine_environment(DeployedTask("s1", deployed_task), engine_values)


def test_the_reconciliation_gets_the_snapshots_the_reports_bucket_and_the_snapshot_key(
    deployment: Deployment,
) -> None:
    # In AWS it gets the HMAC secret's ARN; locally the key the engines sign with, as theirs.
    env = function_environment(deployment.functions["reconciliation"], values())
    settings = settings_from_environment(ReconciliationSettings, env)
    assert (settings.snapshot_bucket, settings.reports_bucket) == (
        "exchange-snapshots",
        "exchange-reports",
    )
    assert settings.snapshot_hmac_key is not None
    assert settings.snapshot_hmac_key.get_secret_value() == "k" * 64
    assert settings.redis_url == "redis://localhost:6379/0"


def test_the_queues_the_topic_and_the_api_key_kms_key_are_the_local_ones(
    deployment: Deployment,
) -> None:
    stand_ins = queue_stand_ins(deployment)
    timers = deployment.queue_mapping_of("cancel_after").queue
    orders = function_environment(deployment.functions["orders"], values(), stand_ins)
    # The queue the orders function sends timers to is the one the cancel_after mapping reads
    assert orders["EXCHANGE_CANCEL_AFTER_QUEUE_URL"] == stand_ins[timers]["Ref"]
    for name in ("api_keys", "rest_authorizer", "ws_authorizer"):
        env = function_environment(deployment.functions[name], values(), stand_ins)
        assert env["EXCHANGE_API_KEY_KMS_KEY_ID"] == AWS.api_key_kms_key_arn, name
    # The payout queue the account function and the sweeper send to is the one payouts reads
    payouts = stand_ins[deployment.queue_mapping_of("payouts").queue]["Ref"]
    for name in ("account", "payout_sweeper"):
        env = function_environment(deployment.functions[name], values(), stand_ins)
        assert env["EXCHANGE_PAYOUT_QUEUE_URL"] == payouts, name
    # Every publisher publishes to the topic the emailer's queue is subscribed to
    (subscription,) = deployment.subscriptions
    assert subscription.queue == deployment.queue_mapping_of("emailer").queue
    assert subscription.raw_message_delivery
    topic = stand_ins[subscription.topic]["Ref"]
    for name in ("api_keys", "deposits", "payouts", "notifier", "notices_relay"):
        env = function_environment(deployment.functions[name], values(), stand_ins)
        assert env["EXCHANGE_NOTIFICATIONS_TOPIC_ARN"] == topic, name
    # Without a local queue for the template's, the stack stops rather than run without timers
    with pytest.raises(TemplateError, match="EXCHANGE_CANCEL_AFTER_QUEUE_URL"):
        function_environment(deployment.functions["orders"], values(), {})


def test_a_getatt_of_a_local_resource_takes_its_attribute() -> None:
    function = deployed(
        "orders", {"EXCHANGE_CANCEL_AFTER_QUEUE_URL": {"Fn::GetAtt": ["Timers", "QueueUrl"]}}
    )
    stand_ins = {"Timers": {"Ref": "http://q/timers", "QueueUrl": "http://q/timers-url"}}
    env = function_environment(function, values(), stand_ins)
    assert env["EXCHANGE_CANCEL_AFTER_QUEUE_URL"] == "http://q/timers-url"
