"""moto, in-process, serving the AWS APIs the exchange uses, provisioned from the same definitions
the CDK app reads: every table in ``exchange.tables.TABLE_SPECS`` (the instruments table too), the
journal stream, the Cognito user pool with its app client and its ``operators`` group, the
snapshot bucket, the reconciliation's reports bucket, the webhook secrets, the payment provider's
API secret and the KMS key API keys' secrets are encrypted under. (The template's SQS queues are
made by ``local.sqs``, its SNS topics and SES identities by ``local.notify``.)

One ``ThreadedMotoServer`` on a free loopback port serves them all; handlers, pollers and the
engine reach it through ``EXCHANGE_AWS_ENDPOINT_URL``, exactly as they reach AWS in the cloud.
"""

import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from exchange.settings import OPERATORS_GROUP, cognito_issuer, database_role, jwks_url_of
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, Need
from local import moto_patches
from local.mailbox import Mailbox
from local.metering import WRITES, WriteMeter
from local.triggers import CognitoTriggers, TriggerFailed, failure_body

REGION: Final = "us-east-1"
# moto accepts any credentials; these only keep boto3 from looking for real ones.
CREDENTIALS: Final = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
JOURNAL_STREAM: Final = "exchange-events"
SNAPSHOT_BUCKET: Final = "exchange-snapshots"
REPORTS_BUCKET: Final = "exchange-reports"  # the reconciliation's dated reports
WEBHOOK_SECRET_NAME: Final = "exchange/deposit-webhook"  # noqa: S105 - a name, not a secret
KYC_SECRET_NAME: Final = "exchange/kyc-webhook"  # noqa: S105 - a name, not a secret
# The payment provider's API secret, which signs the payout worker's requests (the fake provider
# checks them with it).
PAYOUT_PROVIDER_SECRET_NAME: Final = "exchange/payout-provider"  # noqa: S105 - a name
ROLE_SECRET_PREFIX: Final = "exchange/db/"  # noqa: S105 - a name prefix, not a secret
API_KEY_KEY_ALIAS: Final = "alias/exchange/local/api-keys"


def mapped_queue_name(function: str) -> str:
    """The local name of the queue ``function``'s SQS event source mapping reads."""
    return f"exchange-{function.replace('_', '-')}"


# The dead man's switch's timer queue (``local.sqs`` names it so; the IAM check reads it here).
CANCEL_AFTER_QUEUE: Final = mapped_queue_name("cancel_after")
# The payout worker's and the emailer's queues, named so too.
PAYOUT_QUEUE: Final = mapped_queue_name("payouts")
NOTIFICATIONS_QUEUE: Final = mapped_queue_name("emailer")
# The topic every notice is published to (``local.notify`` names it so).
NOTIFICATIONS_TOPIC: Final = "exchange-notifications"


@dataclass(frozen=True, slots=True)
class AwsResources:
    """What was created, with the names handlers and clients need."""

    endpoint_url: str
    table_names: dict[str, str]  # logical name -> table name
    journal_stream: str
    journal_shards: int
    snapshot_bucket: str
    reports_bucket: str
    user_pool_id: str
    app_client_id: str
    webhook_secret_arn: str
    webhook_secret: str
    kyc_secret_arn: str
    kyc_secret: str
    role_secret_arns: dict[str, str]  # database role -> its secret (username, password)
    api_key_kms_key_arn: str  # the functions get its ARN, as deployed (``ApiKeySecretsKey``)
    payout_provider_secret_arn: str
    payout_provider_secret: str

    @property
    def role_secrets_json(self) -> str:
        return json.dumps(self.role_secret_arns, sort_keys=True)

    @property
    def issuer(self) -> str:
        return cognito_issuer(REGION, self.user_pool_id)

    @property
    def jwks_url(self) -> str:
        # moto serves each pool's JWKS at the path Cognito uses, under its own endpoint.
        return jwks_url_of(f"{self.endpoint_url}/{self.user_pool_id}")


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client pointed at the local moto server."""
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url, **CREDENTIALS)


_STREAM_WRITES: Final = frozenset({"Kinesis_20131202.PutRecords", "Kinesis_20131202.PutRecord"})


class MotoTimings:
    """Requests and milliseconds per AWS operation, e.g. ``DynamoDB_20120810.PutItem``: where
    the stack's time in moto goes (``/_local/status``, ``make bench-e2e``)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.calls: dict[str, list[float]] = {}  # operation -> [count, total ms]
        self.on_stream_write: list[Callable[[], None]] = []
        self.writes = WriteMeter(_moto_table)
        # The user pool's Lambda triggers (local.triggers) and confirmation codes (local.mailbox),
        # with a Cognito client and the pool id.
        self.cognito: tuple[CognitoTriggers, Mailbox, Any, str] | None = None

    def _cognito_call(self, environ: dict[str, Any], start_response: Any, target: str) -> Any:
        """A Cognito call the stack stands in for: a confirmation code checked before moto sees
        it, a code issued after, and the user pool's trigger run before the answer."""
        assert self.cognito is not None  # noqa: S101 - checked by the caller
        triggers, mailbox, cognito, pool_id = self.cognito
        raw = _request_body(environ)
        request = json.loads(raw or b"{}")
        refused = mailbox.refuse(target, request)
        if refused is not None:
            return _answer(start_response, "400 Bad Request", [], refused)
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers, exc_info]
            return lambda _data: None

        body = b"".join(self._app(environ, capture))
        status, headers, _ = captured
        if status.startswith("200"):
            mailbox.after(target, request)
            try:
                triggers.after(target, request, cognito, pool_id)
            except TriggerFailed as exc:
                return _answer(start_response, "400 Bad Request", headers, failure_body(exc))
        start_response(status, headers)
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        operation = environ.get("HTTP_X_AMZ_TARGET") or (
            f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '').split('/')[1][:24]}"
        )
        started = time.perf_counter()
        try:
            if self.cognito is not None and (
                self.cognito[0].watches(operation) or self.cognito[1].watches(operation)
            ):
                return self._cognito_call(environ, start_response, operation)
            service, _, action = operation.partition(".")
            if service == "DynamoDB_20120810" and action in WRITES:
                return self._metered(environ, start_response, action)
            return self._app(environ, start_response)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            with self._lock:
                entry = self.calls.setdefault(operation, [0, 0.0])
                entry[0] += 1
                entry[1] += elapsed
            if operation in _STREAM_WRITES:
                for callback in self.on_stream_write:
                    callback()

    def _metered(self, environ: dict[str, Any], start_response: Any, action: str) -> Any:
        """A DynamoDB write, with its write units counted (``local.metering``)."""
        raw = _request_body(environ)
        try:
            writes = self.writes.before(action, json.loads(raw or b"{}"))
        except Exception:  # noqa: BLE001 - a request moto will refuse: nothing to count
            writes = []
        body = list(self._app(environ, start_response))
        try:
            self.writes.after(writes)
        except Exception:  # counting never fails the request
            logging.getLogger(__name__).debug("write units not counted", exc_info=True)
        return body

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                op: {"calls": int(n), "ms_each": round(total / n, 2), "ms_total": round(total)}
                for op, (n, total) in sorted(self.calls.items(), key=lambda kv: -kv[1][1])
            }


def _answer(
    start_response: Any, status: str, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    """A JSON error answer in place of moto's (Cognito's ``__type`` body)."""
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
    start_response(
        status,
        [*kept, ("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _request_body(environ: dict[str, Any]) -> bytes:
    """The request's body, read here and put back for moto to read again."""
    raw: bytes = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw


def _moto_table(name: str) -> Any:
    """moto's table by name (or ARN), in the one account and region the stack uses."""
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(name.rpartition("/")[2])


class _CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher works out each request's service under one global lock, scanning its
    modules on disk each time: a large share of the stack's CPU under load. A signed JSON
    request's service is fixed by its ``X-Amz-Target`` prefix (``DynamoDB_20120810``,
    ``Kinesis_20131202``, ...), so that answer is cached; anything else asks moto as before."""

    def __init__(self, create_app: Any) -> None:
        super().__init__(create_app)
        self._by_target: dict[str, Any] = {}

    def get_application(self, environ: dict[str, Any]) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")[0]
        if not target:
            return super().get_application(environ)
        app = self._by_target.get(target)
        if app is None:
            app = self._by_target[target] = super().get_application(environ)
        return app


class _TimedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        # ThreadedMotoServer's own entry, with the dispatcher cached and wrapped in MotoTimings.
        self.timings = MotoTimings(_CachedDispatcher(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, self.timings, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    """The moto server's lifetime: ``start`` picks a free port, ``stop`` frees it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        # werkzeug logs every request at INFO: thousands of lines a second under load.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_patches.install()  # transactions copy the items they write, not whole tables
        self._server = _TimedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint_url = ""

    def timings(self) -> dict[str, dict[str, float]]:
        return self._server.timings.summary()

    def write_units(self) -> dict[str, Any]:
        """DynamoDB write units billed so far, by table and index (``local.metering``)."""
        return self._server.timings.writes.summary()

    def on_stream_write(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each Kinesis write (as well as those given before): the local
        pollers wake on it instead of polling an idle stream many times a second."""
        self._server.timings.on_stream_write.append(callback)

    def on_cognito(self, triggers: CognitoTriggers, mailbox: Mailbox, pool_id: str) -> None:
        """Run the user pool's Lambda triggers around the Cognito calls that fire them, and
        issue and check sign-up confirmation codes as Cognito does."""
        cognito = client("cognito-idp", self.endpoint_url)
        self._server.timings.cognito = (triggers, mailbox, cognito, pool_id)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self.endpoint_url

    def stop(self) -> None:
        self._server.stop()


def provision(
    endpoint_url: str, *, table_prefix: str = "exchange-", journal_shards: int = 1
) -> AwsResources:
    """Create every resource the stack needs on a fresh moto server."""
    dynamodb = client("dynamodb", endpoint_url)
    table_names: dict[str, str] = {}
    for spec in TABLE_SPECS:
        name = f"{table_prefix}{spec.logical_name}"
        dynamodb.create_table(**spec.create_table_kwargs(name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        table_names[spec.logical_name] = name

    kinesis = client("kinesis", endpoint_url)
    kinesis.create_stream(StreamName=JOURNAL_STREAM, ShardCount=journal_shards)

    s3 = client("s3", endpoint_url)
    s3.create_bucket(Bucket=SNAPSHOT_BUCKET)
    s3.put_bucket_versioning(Bucket=SNAPSHOT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=REPORTS_BUCKET)

    cognito = client("cognito-idp", endpoint_url)
    pool = cognito.create_user_pool(
        PoolName="exchange-users",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
    )["UserPool"]
    app_client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="exchange-api",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    # Members may call /v1/admin: the admin function checks the access token's cognito:groups.
    cognito.create_group(
        GroupName=OPERATORS_GROUP,
        UserPoolId=pool["Id"],
        Description="Exchange operators: the admin API and CLI",
    )

    secretsmanager = client("secretsmanager", endpoint_url)
    webhook_secret = secrets.token_hex(24)
    secret = secretsmanager.create_secret(
        Name=WEBHOOK_SECRET_NAME,
        # A JSON array: the deposits function accepts any of several while one rotates.
        SecretString=json.dumps([webhook_secret]),
    )
    kyc_secret = secrets.token_hex(24)
    kyc = secretsmanager.create_secret(Name=KYC_SECRET_NAME, SecretString=json.dumps([kyc_secret]))
    # What the proxy presents for each function's role in AWS; the migrate function gives each
    # role its login from these, locally as on deploy.
    role_secret_arns = {}
    for name, function in FUNCTIONS.items():
        if Need.LEDGER not in function.needs:
            continue
        role = database_role(name)
        created = secretsmanager.create_secret(
            Name=f"{ROLE_SECRET_PREFIX}{role}",
            SecretString=json.dumps({"username": role, "password": secrets.token_urlsafe(24)}),
        )
        role_secret_arns[role] = created["ARN"]
    provider_secret = secrets.token_hex(24)
    provider = secretsmanager.create_secret(
        Name=PAYOUT_PROVIDER_SECRET_NAME, SecretString=json.dumps([provider_secret])
    )
    kms = client("kms", endpoint_url)
    # Single-Region, where the deployed key is multi-Region (its replica serves the DR region):
    # one region here, and moto 5.2 refuses Decrypt with a KeyId under a multi-Region key.
    api_key_key = kms.create_key(
        Description="Exchange API keys' secrets (local)",
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
    )["KeyMetadata"]
    kms.create_alias(AliasName=API_KEY_KEY_ALIAS, TargetKeyId=api_key_key["KeyId"])
    return AwsResources(
        endpoint_url=endpoint_url,
        table_names=table_names,
        journal_stream=JOURNAL_STREAM,
        journal_shards=journal_shards,
        snapshot_bucket=SNAPSHOT_BUCKET,
        reports_bucket=REPORTS_BUCKET,
        user_pool_id=pool["Id"],
        app_client_id=app_client["ClientId"],
        webhook_secret_arn=secret["ARN"],
        webhook_secret=webhook_secret,
        kyc_secret_arn=kyc["ARN"],
        kyc_secret=kyc_secret,
        role_secret_arns=role_secret_arns,
        api_key_kms_key_arn=api_key_key["Arn"],
        payout_provider_secret_arn=provider["ARN"],
        payout_provider_secret=provider_secret,
    )
