"""The IAM fidelity check on the synthesized templates, with call logs made from the catalog:
each function's calls on its tables and needs as the local stack makes them (translated to the
deployment like the e2e log, ``tests/e2e/test_iam_fidelity.py``), plus the calls only AWS mode
makes (the broker's and the admin's secrets, IAM authentication to RDS Proxy, the engine's
secrets and the snapshot key the reconciliation verifies with). Every one must be allowed by the
primary region's template, KMS included; a permission removed from the template on purpose must
show up as a denial.

Operator controls: every live catalog reads the instruments store whole (Scan; the engine too, at
start), the reconciliation the orders table's sparse ``open_orders`` index (Scan); the admin and
the recorder write the store (a listing is a transaction: "Using IAM with DynamoDB transactions"
authorizes each item by its own action); the reconciliation reads the engine's snapshots
(GetObject, and ListObjectsV2, which is s3:ListBucket on the bucket) and writes its report under
``reconciliation/`` of the reports bucket (PutObject; under SSE-KMS also kms:GenerateDataKey:
"Using server-side encryption with AWS KMS keys").

"Connecting to a proxy using IAM authentication" (Amazon RDS User Guide): a client authenticating
to RDS Proxy with IAM needs ``rds-db:connect`` on ``arn:aws:rds-db:<region>:<account>:dbuser:
<proxy resource id, prx-...>/<database user>``.

Money out and notifications: the account function and the sweeper send to the payout queue, the
payout worker reads the provider's secret, the functions with the topic publish notices (SNS,
KMS-encrypted: "Amazon SNS data encryption"), the emailer sends through SES from the domain identity
with the configuration set and reads users from the pool; the payout worker's and the emailer's
event source mappings read their own queues with their roles.

API keys' secrets: the api_keys function encrypts and the authorizers decrypt with the API-key
KMS key, always with the encryption context {"key_id", "account_id"}; a call without it, or with
another key in it, is denied ("AWS KMS condition keys"). The dead man's switch: the orders
function sends timers to the queue (KMS-encrypted with the region's key: "Amazon SQS key
management"), and the cancel_after function's event source mapping reads, deletes and returns
them with the function's role ("Using Lambda with Amazon SQS", execution role permissions).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from exchange.settings import EngineSettings, database_role, env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, FunctionSpec, Need, Trigger
from local import aws as local_aws
from local.gateway.events import STAGE
from stacks.constructs.grants import REPORTS_PREFIX, SCANNED
from tests.fidelity.actions import Call, Requirement
from tests.fidelity.cfn import Stacks, StackTemplate
from tests.fidelity.check import Checker, Report
from tests.fidelity.deployment import ENGINE, Deployment, without_action
from tests.fidelity.translate import MOTO_ACCOUNT, LocalNames, Translation, translation_lines
from tests.infrastructure.conftest import MAIN_STACKS, PRIMARY

API_URL = "http://127.0.0.1:8000"
# How the local stack names the API-key key and the timer queue (moto's URL host is its own).
LOCAL_KEY = "alias/exchange-api-keys"
LOCAL_QUEUE_URL = "http://127.0.0.1:5000/123456789012/exchange-cancel-after"
# Money out and notifications, as the local stack names them (``local.aws``, ``local.sqs``).
LOCAL_PAYOUT_QUEUE_URL = "http://127.0.0.1:5000/123456789012/exchange-payouts"
LOCAL_TOPIC = getattr(local_aws, "NOTIFICATIONS_TOPIC", "exchange-notifications")
LOCAL_TOPIC_ARN = f"arn:aws:sns:{local_aws.REGION}:123456789012:{LOCAL_TOPIC}"
LOCAL_PROVIDER_SECRET = getattr(
    local_aws, "PAYOUT_PROVIDER_SECRET_NAME", "exchange/payout-provider"
)
LOCAL_SENDER = "no-reply@exchange.example"
LOCAL_CONFIGURATION_SET = "exchange-notices"
LOCAL_USER_POOL = f"{local_aws.REGION}_local"
API_KEY_CONTEXT = {"key_id": "ak_0123456789abcdef", "account_id": "acc-1"}
INDEXES = {spec.logical_name: [index.name for index in spec.indexes] for spec in TABLE_SPECS}
READS = ("GetItem", "Query")
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
REPORTS_BUCKET = getattr(local_aws, "REPORTS_BUCKET", "exchange-reports")
REPORT_KEY = f"{REPORTS_PREFIX}2025/01/02/030405Z.json"


def stacks_of(bodies: dict[str, Any], regions: dict[str, str]) -> Stacks:
    return Stacks(StackTemplate(name, regions[name], body) for name, body in bodies.items())


@pytest.fixture(scope="module")
def bodies(templates: dict[str, Template]) -> dict[str, Any]:
    return {name: template.to_json() for name, template in templates.items()}


@pytest.fixture(scope="module")
def regions(stacks: dict[str, Stack]) -> dict[str, str]:
    return {name: stack.region for name, stack in stacks.items()}


@pytest.fixture(scope="module")
def primary(bodies: dict[str, Any], regions: dict[str, str]) -> Deployment:
    return Deployment(stacks_of(bodies, regions), PRIMARY)


def local_names() -> LocalNames:
    return LocalNames.of_local_stack(
        api_url=API_URL,
        user_pool_id=LOCAL_USER_POOL,
        api_key_kms_key_id=LOCAL_KEY,
        cancel_after_queue_url=LOCAL_QUEUE_URL,
        payout_queue_url=LOCAL_PAYOUT_QUEUE_URL,
        notifications_topic=LOCAL_TOPIC_ARN,
        payout_provider_secret=LOCAL_PROVIDER_SECRET,
        email_sender=LOCAL_SENDER,
        email_configuration_set=LOCAL_CONFIGURATION_SET,
    )


@pytest.fixture(scope="module")
def translation(primary: Deployment) -> Translation:
    return Translation.of(local_names(), primary)


def local_call(principal: str, service: str, operation: str, **params: Any) -> Call:
    return Call(principal, service, operation, local_aws.REGION, params)


def local_secret(name: str) -> str:
    return f"arn:aws:secretsmanager:{local_aws.REGION}:{MOTO_ACCOUNT}:secret:{name}-AbC123"


def table_calls(spec: FunctionSpec) -> Iterator[Call]:
    for logical, access in spec.tables.items():
        table = f"exchange-{logical}"
        for operation in READS + (WRITES if access == "write" else ()):
            yield local_call(spec.name, "dynamodb", operation, TableName=table)
        for part in SCANNED.get(logical, ()):
            scanned = {"IndexName": part} if part else {}
            yield local_call(spec.name, "dynamodb", "Scan", TableName=table, **scanned)
        for index in INDEXES[logical]:
            yield local_call(spec.name, "dynamodb", "Query", TableName=table, IndexName=index)
        if access == "write":
            items = [
                {"kind": "Put", "TableName": table},
                {"kind": "ConditionCheck", "TableName": table},
            ]
            yield local_call(spec.name, "dynamodb", "TransactWriteItems", TransactItems=items)


def catalog_calls() -> Iterator[Call]:
    """What each deployable does with AWS, as the local stack makes the calls."""
    journal = local_aws.JOURNAL_STREAM
    for spec in FUNCTIONS.values():
        yield from table_calls(spec)
        if Need.WEBHOOK_SECRET in spec.needs:
            secret = local_secret(local_aws.WEBHOOK_SECRET_NAME)
            yield local_call(spec.name, "secretsmanager", "GetSecretValue", SecretId=secret)
        if Need.KYC_WEBHOOK_SECRET in spec.needs:
            secret = local_secret(local_aws.KYC_SECRET_NAME)
            yield local_call(spec.name, "secretsmanager", "GetSecretValue", SecretId=secret)
        if Need.LEDGER_ADMIN in spec.needs:  # each role's login, from the role's secret
            for name, other in FUNCTIONS.items():
                if Need.LEDGER in other.needs:
                    secret = local_secret(f"{local_aws.ROLE_SECRET_PREFIX}{database_role(name)}")
                    yield local_call(spec.name, "secretsmanager", "GetSecretValue", SecretId=secret)
        if Need.WS_MANAGEMENT in spec.needs:
            yield Call(
                spec.name,
                "apigatewaymanagementapi",
                "PostToConnection",
                local_aws.REGION,
                {"ConnectionId": "Zx1="},
                f"{API_URL}/{STAGE}",
            )
        if spec.trigger is Trigger.KINESIS:  # the event source mapping reads as the function
            for operation in ("DescribeStream", "ListShards", "GetShardIterator", "GetRecords"):
                yield local_call(f"esm:{spec.name}", "kinesis", operation, StreamName=journal)
        yield from timer_and_key_calls(spec)
        yield from bucket_calls(spec)
        yield from money_calls(spec)
    for operation in ("GetItem", "Query", "Scan"):  # the listings, at start
        yield local_call(ENGINE, "dynamodb", operation, TableName="exchange-instruments")
    for operation in (
        "PutRecords",
        "ListShards",
        "DescribeStreamSummary",
        "GetShardIterator",
        "GetRecords",
    ):
        yield local_call(ENGINE, "kinesis", operation, StreamName=journal)
    for operation in ("GetObject", "PutObject"):
        yield local_call(ENGINE, "s3", operation, Bucket=local_aws.SNAPSHOT_BUCKET, Key="s1/latest")


def bucket_calls(spec: FunctionSpec) -> Iterator[Call]:
    """The engine's snapshots read (``Need.ENGINE_SNAPSHOTS``), a report written
    (``Need.REPORTS_BUCKET``)."""
    if Need.ENGINE_SNAPSHOTS in spec.needs:
        snapshots = local_aws.SNAPSHOT_BUCKET
        yield local_call(spec.name, "s3", "GetObject", Bucket=snapshots, Key="s1/latest")
        yield local_call(spec.name, "s3", "ListObjectsV2", Bucket=snapshots, Prefix="s1/")
    if Need.REPORTS_BUCKET in spec.needs:
        yield local_call(spec.name, "s3", "PutObject", Bucket=REPORTS_BUCKET, Key=REPORT_KEY)


def kms_call(principal: str, operation: str, **context: str) -> Call:
    return local_call(principal, "kms", operation, KeyId=LOCAL_KEY, EncryptionContext=context)


def timer_and_key_calls(spec: FunctionSpec) -> Iterator[Call]:
    """API keys' secrets (KMS) and the dead man's switch's timers (SQS), by need and trigger."""
    if Need.API_KEY_ENCRYPT in spec.needs:
        yield kms_call(spec.name, "Encrypt", **API_KEY_CONTEXT)
    if Need.API_KEY_DECRYPT in spec.needs:
        yield kms_call(spec.name, "Decrypt", **API_KEY_CONTEXT)
    if Need.CANCEL_AFTER_QUEUE in spec.needs:
        yield local_call(spec.name, "sqs", "SendMessage", QueueUrl=LOCAL_QUEUE_URL)
    if spec.queue == "cancel-after":  # the event source mapping reads as the function
        for operation in ESM_SQS_OPERATIONS:
            yield local_call(f"esm:{spec.name}", "sqs", operation, QueueUrl=LOCAL_QUEUE_URL)


ESM_SQS_OPERATIONS = (
    "GetQueueAttributes",
    "ReceiveMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
)


def money_calls(spec: FunctionSpec) -> Iterator[Call]:
    """Money out's and notifications' calls, by need: the payout queue sent to, the provider's
    secret read, a notice published, an email sent, a user's address looked up."""
    if Need.PAYOUT_QUEUE in spec.needs:
        yield local_call(spec.name, "sqs", "SendMessage", QueueUrl=LOCAL_PAYOUT_QUEUE_URL)
    if Need.PAYOUT_PROVIDER in spec.needs:
        secret = local_secret(LOCAL_PROVIDER_SECRET)
        yield local_call(spec.name, "secretsmanager", "GetSecretValue", SecretId=secret)
    if Need.NOTIFICATIONS_TOPIC in spec.needs:
        yield local_call(spec.name, "sns", "Publish", TopicArn=LOCAL_TOPIC_ARN)
    if Need.EMAIL in spec.needs:
        yield local_call(
            spec.name,
            "sesv2",
            "SendEmail",
            FromEmailAddress=LOCAL_SENDER,
            ConfigurationSetName=LOCAL_CONFIGURATION_SET,
        )
    if Need.USER_DIRECTORY in spec.needs:
        yield local_call(spec.name, "cognito-idp", "ListUsers", UserPoolId=LOCAL_USER_POOL)


def mapped_queue_calls() -> Iterator[Call]:
    """The payouts' and the notices' event source mappings, reading as their functions, by the
    local queue names (``local.aws.mapped_queue_name``): the notices' queue translates through the
    emailer's mapping, no settings field naming it."""
    for name, spec in FUNCTIONS.items():
        if spec.queue is None or spec.queue == "cancel-after":
            continue
        url = f"http://127.0.0.1:5000/123456789012/{local_aws.mapped_queue_name(name)}"
        for operation in ESM_SQS_OPERATIONS:
            yield local_call(f"esm:{name}", "sqs", operation, QueueUrl=url)


def aws_only_calls(deployment: Deployment) -> Iterator[Call]:
    """The secrets only AWS mode reads, by the ARNs the template gives each deployable."""
    region = deployment.region

    def secret_read(principal: str, arn: Any) -> Call:
        return Call(principal, "secretsmanager", "GetSecretValue", region, {"SecretId": arn})

    for name, spec in FUNCTIONS.items():
        environment = deployment.function_environment(name)
        if Need.BROKER in spec.needs:
            yield secret_read(name, environment[env_var(spec.settings, "broker_secret_arn")])
        if Need.LEDGER_ADMIN in spec.needs:
            yield secret_read(name, environment[env_var(spec.settings, "database_secret_arn")])
        if Need.ENGINE_SNAPSHOTS in spec.needs:  # locally the key itself is in the environment
            arn = environment[env_var(spec.settings, "snapshot_hmac_secret_arn")]
            yield secret_read(name, arn)
    for environment in deployment.engine_environments():
        for field in ("broker_secret_arn", "snapshot_hmac_secret_arn"):
            yield secret_read(ENGINE, environment[env_var(EngineSettings, field)])


def proxy_connections(deployment: Deployment) -> Iterator[tuple[str, Requirement]]:
    """Each LEDGER function's IAM authentication to the proxy its environment names."""
    resolver = deployment.stacks.resolver(deployment.main.name)
    proxies = {
        resolver.get_att(logical, "Endpoint"): resolver.get_att(logical, "DBProxyArn")
        for logical, resource in deployment.main.resources.items()
        if resource["Type"] == "AWS::RDS::DBProxy"
    }
    for name, spec in FUNCTIONS.items():
        if Need.LEDGER not in spec.needs:
            continue
        environment = deployment.function_environment(name)
        proxy = proxies[environment[env_var(spec.settings, "database_host")]]
        user = environment[env_var(spec.settings, "database_user")]
        resource_id = proxy.split(":")[6]
        arn = f"arn:aws:rds-db:{deployment.region}:{deployment.account}:dbuser:{resource_id}/{user}"
        yield name, Requirement("rds-db:connect", arn)


def test_every_principal_has_its_roles_in_both_regions(
    bodies: dict[str, Any], regions: dict[str, str]
) -> None:
    stacks = stacks_of(bodies, regions)
    for stack in MAIN_STACKS:
        deployment = Deployment(stacks, stack)
        for name in deployment.functions:
            assert len(deployment.roles_of(name)) == 1, (stack, name)
        assert deployment.roles_of(ENGINE), stack


def test_every_local_resource_translates_to_the_deployment(translation: Translation) -> None:
    rows = translation.rows()
    print("\n".join(translation_lines(rows)))
    assert [row for row in rows if row.deployed is None] == []
    kinds = {row.kind for row in rows}
    assert {"table", "stream", "bucket", "secret", "endpoint"} <= kinds


def test_the_catalogs_calls_are_allowed_by_the_primary_template(
    primary: Deployment, translation: Translation, capsys: pytest.CaptureFixture[str]
) -> None:
    checker = Checker(primary, translation)
    report = checker.check(catalog_calls())
    checker.check(aws_only_calls(primary), report, local=False)
    checker.check(mapped_queue_calls(), report)
    for name, requirement in proxy_connections(primary):
        (role,) = primary.roles_of(name)
        decision = checker.decide(role, requirement)
        triple = (name, requirement.action, requirement.resource)
        if decision.allowed:
            report.allowed.add(triple)
        else:
            report.denied[triple] = checker_finding(name, requirement, decision.reason)
    with capsys.disabled():  # in every run's log, not only a failing one's
        print(f"\nIAM fidelity (catalog): {report.summary()}")
    assert report.problems == [], "\n".join(report.problems)
    assert {action for _, action, _ in report.triples} >= {
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "s3:GetObject",
        "s3:ListBucket",
        "dynamodb:ConditionCheckItem",
        "kinesis:PutRecords",
        "s3:PutObject",
        "secretsmanager:GetSecretValue",
        "execute-api:ManageConnections",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "rds-db:connect",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sns:Publish",
        "ses:SendEmail",
        "cognito-idp:ListUsers",
    }


def checker_finding(principal: str, requirement: Requirement, reason: str) -> Any:
    from tests.fidelity.check import Finding  # noqa: PLC0415 - only when something is denied

    return Finding(principal, f"{requirement.action} on {requirement.resource}", reason)


def test_a_permission_removed_from_the_template_is_denied(
    bodies: dict[str, Any], regions: dict[str, str], primary: Deployment
) -> None:
    put = [local_call("orders", "dynamodb", "PutItem", TableName="exchange-orders")]
    local = local_names()
    assert Checker(primary, Translation.of(local, primary)).check(put).problems == []
    stripped = Deployment(
        stacks_of(
            without_action(bodies, PRIMARY, "orders", "dynamodb:PutItem", "exchange-prod-orders"),
            regions,
        ),
        PRIMARY,
    )
    report: Report = Checker(stripped, Translation.of(local, stripped)).check(put)
    assert [(p, a) for p, a, _ in report.denied] == [("orders", "dynamodb:PutItem")]
    assert report.problems[0].startswith("DENIED orders: dynamodb:PutItem on arn:aws:dynamodb:")


@pytest.mark.parametrize(
    ("call", "why"),
    [
        (kms_call("rest_authorizer", "Decrypt"), "no encryption context"),
        (kms_call("rest_authorizer", "Decrypt", key_id="ak_1"), "no account_id in the context"),
        (
            kms_call("rest_authorizer", "Decrypt", **API_KEY_CONTEXT, purpose="other"),
            "a context key the api_keys code never binds",
        ),
        (kms_call("rest_authorizer", "Encrypt", **API_KEY_CONTEXT), "the authorizer only decrypts"),
        (kms_call("orders", "Decrypt", **API_KEY_CONTEXT), "orders has no API-key need"),
        (
            local_call("markets", "sqs", "SendMessage", QueueUrl=LOCAL_QUEUE_URL),
            "only orders arms the dead man's switch",
        ),
        (
            local_call("orders", "sqs", "ReceiveMessage", QueueUrl=LOCAL_QUEUE_URL),
            "only the timers' consumer reads them",
        ),
        (
            local_call("orders", "sqs", "SendMessage", QueueUrl=LOCAL_PAYOUT_QUEUE_URL),
            "only the account function and the sweeper send payouts",
        ),
        (
            local_call("orders", "sns", "Publish", TopicArn=LOCAL_TOPIC_ARN),
            "orders publishes no notices",
        ),
        (
            local_call(
                "notifier",
                "sesv2",
                "SendEmail",
                FromEmailAddress=LOCAL_SENDER,
                ConfigurationSetName=LOCAL_CONFIGURATION_SET,
            ),
            "only the emailer sends email",
        ),
        (
            local_call("deposits", "cognito-idp", "ListUsers", UserPoolId=LOCAL_USER_POOL),
            "only the emailer reads the user directory",
        ),
        (
            local_call(
                "account",
                "secretsmanager",
                "GetSecretValue",
                SecretId=local_secret(LOCAL_PROVIDER_SECRET),
            ),
            "only the payout worker signs provider requests",
        ),
        (
            local_call("markets", "dynamodb", "Scan", TableName="exchange-trades"),
            "only the instruments store and the open orders are read whole",
        ),
        (
            local_call("reconciliation", "dynamodb", "Scan", TableName="exchange-orders"),
            "the open_orders index, not the orders table",
        ),
        (
            local_call("reconciliation", "s3", "PutObject", Bucket=REPORTS_BUCKET, Key="x.json"),
            "reports go under reconciliation/ only",
        ),
        (
            local_call("recorder", "s3", "PutObject", Bucket=REPORTS_BUCKET, Key=REPORT_KEY),
            "only the reconciliation writes reports",
        ),
        (
            local_call(
                "reconciliation",
                "s3",
                "PutObject",
                Bucket=local_aws.SNAPSHOT_BUCKET,
                Key="s1/latest",
            ),
            "the reconciliation only reads snapshots",
        ),
        (
            local_call("admin", "s3", "GetObject", Bucket=local_aws.SNAPSHOT_BUCKET, Key="s1/x"),
            "only the reconciliation reads snapshots",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_calls_outside_their_grants_are_denied(
    primary: Deployment, translation: Translation, call: Call, why: str
) -> None:
    report = Checker(primary, translation).check([call])
    assert [action for _, action, _ in report.denied] != [], why
    assert report.untranslatable == set(), report.problems
    assert report.unmapped == set(), report.problems
