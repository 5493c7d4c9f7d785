"""From a call the local stack made to the call the deployment would make: one explicit table.

The code never invents a resource name: it reads each one from a settings field (a table from
``<logical>_table``, the journal from ``journal_stream``, a secret from ``*_secret_arn`` ...).
So a local resource translates to the deployed one through the field whose value names it: the
local side from how ``local.aws`` provisions moto (``LocalNames``), the deployed side from the
value the synthesized template gives that field (``deployed_values``: every function's and the
engine's environment). The region and moto's account become the deployment's.

The dead man's switch's queue translates by its name (``QueueUrl``'s last segment, or
``QueueName``) through ``cancel_after_queue_url``, the payout queue through ``payout_queue_url``,
the API-key KMS key by its ``KeyId`` (an ARN, a key id or an alias, as the local stack names it)
through ``api_key_kms_key_id``, the notifications topic (``TopicArn``) through
``notifications_topic_arn``, the payment provider's secret through ``payout_provider_secret_arn``,
and SES's sender (``FromEmailAddress``) and configuration set (``ConfigurationSetName``) through
``email_sender`` and ``email_configuration_set``. A queue no settings field names (the notices to
email: only the emailer's event source mapping reads it) translates through the function whose
mapping reads it (``esm_queue[<function>]``, from the mapping's ``EventSourceArn``).

Anything else is ``Untranslatable``: a resource no field names, a field the template sets to
different values for different deployables, a parameter naming a resource this table has no
rule for (a topic, a function ...), a call in another region or account. The check reports
those; it never lets them pass.
"""

import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from exchange.settings import EngineSettings, database_role, env_var
from exchange.tables import TABLE_SPECS
from lambdas.catalog import FUNCTIONS, Need
from local import aws as local_aws
from tests.fidelity.actions import Call
from tests.fidelity.deployment import Deployment

MOTO_ACCOUNT: Final = "123456789012"  # moto's default account: every local ARN is in it
# Parameters that name a part of a resource the translation leaves as it is: index names come from
# the same table specs locally and in the template, keys and ids are data, not resources.
PASSTHROUGH: Final = frozenset(
    {
        "IndexName",
        "ShardId",
        "Key",
        "Prefix",
        "VersionId",
        "ConnectionId",
        "Namespace",
        # KMS's encryption context is not secret and names no resource ("Encryption context").
        "EncryptionContext",
    }
)
# (kind, ``local.aws`` constant) naming a secret or a bucket the local stack creates -> the field
# holding its ARN or name.
LOCAL_RESOURCES: Final[Mapping[tuple[str, str], str]] = {
    ("secret", "WEBHOOK_SECRET_NAME"): "ledger_webhook_secret_arn",
    ("secret", "KYC_SECRET_NAME"): "kyc_webhook_secret_arn",
    ("bucket", "SNAPSHOT_BUCKET"): "snapshot_bucket",
    ("bucket", "REPORTS_BUCKET"): "reports_bucket",
    ("secret", "PAYOUT_PROVIDER_SECRET_NAME"): "payout_provider_secret_arn",
    ("topic", "NOTIFICATIONS_TOPIC"): "notifications_topic_arn",
}
# ``local.aws`` constants naming the dead man's switch's queue and the API-key key (its alias).
LOCAL_QUEUE: Final = "CANCEL_AFTER_QUEUE"
LOCAL_KEY_ALIAS: Final = "API_KEY_KEY_ALIAS"


def queue_name(queue: str) -> str:
    """A queue's name from its URL (any host: moto's or SQS's), or the name itself."""
    return queue.rstrip("/").rsplit("/", 1)[-1]


def key_name(key: str) -> str:
    """A KMS key as ``key/<id>`` or ``alias/<name>``, from its ARN, id or alias."""
    if key.startswith("arn:"):
        return key.split(":", 5)[5]
    return key if key.startswith("alias/") else f"key/{key}"


class Untranslatable(LookupError):
    """A local call with no deployed counterpart this translation can name."""


@dataclass(frozen=True, slots=True)
class LocalNames:
    """What each local resource is, as (kind, local name) -> settings field."""

    names: Mapping[tuple[str, str], str]
    region: str = local_aws.REGION
    account: str = MOTO_ACCOUNT

    @classmethod
    def of_local_stack(
        cls,
        *,
        api_url: str | None = None,
        user_pool_id: str | None = None,
        api_key_kms_key_id: str | None = None,
        cancel_after_queue_url: str | None = None,
        payout_queue_url: str | None = None,
        notifications_topic: str | None = None,
        payout_provider_secret: str | None = None,
        email_sender: str | None = None,
        email_configuration_set: str | None = None,
    ) -> "LocalNames":
        """The names ``local.aws.provision`` gives (tables ``<prefix><logical>``, the journal, the
        snapshot and reports buckets, the secrets, the timer queue and the API-key key's alias
        when it names them), plus the running stack's WebSocket Management API stage
        (``<api_url>/<stage>``), user pool, API-key key and timer queue when given."""
        prefix = inspect.signature(local_aws.provision).parameters["table_prefix"].default
        names: dict[tuple[str, str], str] = {
            ("table", f"{prefix}{spec.logical_name}"): spec.settings_field for spec in TABLE_SPECS
        }
        names["stream", local_aws.JOURNAL_STREAM] = "journal_stream"
        for (kind, constant), settings_field in LOCAL_RESOURCES.items():
            if hasattr(local_aws, constant):
                names[kind, getattr(local_aws, constant)] = settings_field
        role_prefix = getattr(local_aws, "ROLE_SECRET_PREFIX", None)
        if role_prefix is not None:
            for name, spec in FUNCTIONS.items():
                if Need.LEDGER in spec.needs:
                    role = database_role(name)
                    names["secret", f"{role_prefix}{role}"] = f"database_role_secret_arns[{role}]"
        if api_url is not None:
            from local.gateway.events import STAGE  # noqa: PLC0415 - the gateway's stage name

            names["endpoint", f"{api_url.rstrip('/')}/{STAGE}"] = "ws_management_endpoint"
        if user_pool_id is not None:
            names["user_pool", user_pool_id] = "user_pool_id"
        for queue in (getattr(local_aws, LOCAL_QUEUE, None), cancel_after_queue_url):
            if queue is not None:
                names["queue", queue_name(queue)] = "cancel_after_queue_url"
        for key in (getattr(local_aws, LOCAL_KEY_ALIAS, None), api_key_kms_key_id):
            if key is not None:
                names["key", key_name(key)] = "api_key_kms_key_id"
        given = _given(
            payout_queue_url=payout_queue_url,
            notifications_topic=notifications_topic,
            payout_provider_secret=payout_provider_secret,
            email_sender=email_sender,
            email_configuration_set=email_configuration_set,
        )
        for key, settings_field in given.items():  # a field named above wins
            names.setdefault(key, settings_field)
        return cls(names)


def _given(**local: str | None) -> dict[tuple[str, str], str]:
    """The running stack's names of money out's resources, when given (the payout queue also by
    ``local.aws.mapped_queue_name``): queue and topic by their last segment (a URL's or an ARN's),
    the secret, the sender address and the configuration set as they are; and each SQS function's
    queue as ``esm_queue[<function>]`` where no field names it."""
    kinds = {
        "payout_queue_url": ("queue", "payout_queue_url"),
        "notifications_topic": ("topic", "notifications_topic_arn"),
        "payout_provider_secret": ("secret", "payout_provider_secret_arn"),
        "email_sender": ("sender", "email_sender"),
        "email_configuration_set": ("configuration_set", "email_configuration_set"),
    }
    found = {}
    if hasattr(local_aws, "mapped_queue_name"):  # each SQS function's queue, by its reader
        for name, spec in FUNCTIONS.items():
            if spec.queue is not None:
                found["queue", local_aws.mapped_queue_name(name)] = f"esm_queue[{name}]"
        if local.get("payout_queue_url") is None:
            local["payout_queue_url"] = local_aws.mapped_queue_name("payouts")
    for argument, value in local.items():
        if value is None:
            continue
        kind, settings_field = kinds[argument]
        name = queue_name(value).rsplit(":", 1)[-1] if kind in {"queue", "topic"} else value
        found[kind, name] = settings_field
    return found


def _fields_of(model: Any) -> dict[str, str]:
    return {env_var(model, name): name for name in model.model_fields}


def deployed_values(deployment: Deployment) -> dict[str, set[str]]:
    """Settings field -> every value the template gives it (a dict field's entries as
    ``field[key]``), over every function's and the engine's environment."""
    values: dict[str, set[str]] = {}

    def add(variables: Mapping[str, Any], model: Any) -> None:
        fields = _fields_of(model)
        for variable, value in variables.items():
            name = fields.get(variable)
            if name is None or not isinstance(value, str):
                continue
            values.setdefault(name, set()).add(value)
            if value.startswith("{"):
                try:
                    entries = json.loads(value)
                except ValueError:
                    continue
                if isinstance(entries, dict):
                    for key, entry in entries.items():
                        values.setdefault(f"{name}[{key}]", set()).add(str(entry))

    for name in deployment.functions:
        if name in FUNCTIONS:
            add(deployment.function_environment(name), FUNCTIONS[name].settings)
    values.update(mapped_queues(deployment))
    for environment in deployment.engine_environments():
        add(environment, EngineSettings)
    return values


def mapped_queues(deployment: Deployment) -> dict[str, set[str]]:
    """``esm_queue[<function>]`` -> the URL of the queue that SQS function's event source mapping
    reads, from the template: a queue only a mapping reads (the notices to email) is named by no
    settings field, so it translates through its consumer."""
    resolver = deployment.stacks.resolver(deployment.main.name)
    found: dict[str, set[str]] = {}
    for name, (logical, _) in deployment.functions.items():
        for resource in deployment.main.resources.values():
            props = resource.get("Properties", {})
            if resource["Type"] != "AWS::Lambda::EventSourceMapping" or props.get(
                "FunctionName"
            ) != {"Ref": logical}:
                continue
            arn = resolver.resolve(props["EventSourceArn"])
            parts = arn.split(":") if isinstance(arn, str) else []
            if len(parts) == 6 and parts[2] == "sqs":
                url = f"https://sqs.{parts[3]}.amazonaws.com/{parts[4]}/{parts[5]}"
                found.setdefault(f"esm_queue[{name}]", set()).add(url)
    return found


@dataclass(frozen=True, slots=True)
class Row:
    kind: str
    local: str
    field: str
    deployed: str | None  # None: the template gives the field no single value
    why: str = ""


@dataclass
class Translation:
    local: LocalNames
    deployed: Mapping[str, set[str]]
    region: str
    account: str
    _by_kind: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, local: LocalNames, deployment: Deployment) -> "Translation":
        return cls(local, deployed_values(deployment), deployment.region, deployment.account)

    def rows(self) -> list[Row]:
        """The whole table, one row per local resource."""
        found = []
        for (kind, local), settings_field in sorted(self.local.names.items()):
            values = self.deployed.get(settings_field, set())
            if len(values) == 1:
                found.append(Row(kind, local, settings_field, next(iter(values))))
            else:
                why = "the template sets it nowhere" if not values else f"set to {sorted(values)}"
                found.append(Row(kind, local, settings_field, None, why))
        return found

    def _name(self, kind: str, local: str) -> str:
        if not self._by_kind:
            for row in self.rows():
                self._by_kind.setdefault(row.kind, {})[row.local] = row.deployed or ""
        deployed = self._by_kind.get(kind, {}).get(local)
        if deployed is None:
            raise Untranslatable(f"no deployed counterpart is known for the local {kind} {local!r}")
        if not deployed:
            row = next(r for r in self.rows() if (r.kind, r.local) == (kind, local))
            raise Untranslatable(f"the local {kind} {local!r} is {row.field}, which {row.why}")
        return deployed

    def _arn_name(self, arn: str, service: str) -> str:
        """The name part of a local ARN of ``service``, checking its region and account."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != service:
            raise Untranslatable(f"{arn!r} is no {service} ARN")
        if parts[3] != self.local.region or parts[4] != self.local.account:
            raise Untranslatable(f"{arn!r} is not in the local stack's region and account")
        return parts[5]

    def _secret(self, secret: str) -> str:
        if not secret.startswith("arn:"):
            return self._name("secret", secret)
        name = self._arn_name(secret, "secretsmanager").removeprefix("secret:")
        return self._name("secret", name.rsplit("-", 1)[0])  # moto's random suffix, like AWS's

    def _stream_arn(self, arn: str) -> str:
        name = self._name("stream", self._arn_name(arn, "kinesis").removeprefix("stream/"))
        return f"arn:aws:kinesis:{self.region}:{self.account}:stream/{name}"

    def _param(self, call: Call, key: str, value: Any) -> Any:  # noqa: PLR0911, PLR0912 - one rule per key
        match key:
            case _ if key in PASSTHROUGH:
                return value
            case "TableName":
                return self._name("table", value)
            case "RequestItems":
                return {self._name("table", table): kinds for table, kinds in value.items()}
            case "TransactItems":
                return [
                    {**item, "TableName": self._name("table", item["TableName"])}
                    if "TableName" in item
                    else item
                    for item in value
                ]
            case "StreamName":
                return self._name("stream", value)
            case "StreamARN":
                return self._stream_arn(value)
            case "Bucket":
                return self._name("bucket", value)
            case "SecretId" | "Name" if call.service == "secretsmanager":
                return self._secret(value)
            case "UserPoolId":
                return self._name("user_pool", value)
            case "QueueUrl":
                return self._name("queue", queue_name(value))
            case "QueueName":
                return queue_name(self._name("queue", value))
            case "TopicArn":
                return self._name("topic", self._arn_name(value, "sns"))
            case "FromEmailAddress":
                return self._name("sender", value)
            case "ConfigurationSetName":
                return self._name("configuration_set", value)
            case "KeyId" if call.service == "kms":
                if value.startswith("arn:"):
                    self._arn_name(value, "kms")  # in the local stack's region and account
                return self._name("key", key_name(value))
        raise Untranslatable(f"{call.service}.{call.operation}: no rule for {key}={value!r}")

    def translate(self, call: Call) -> Call:
        """``call`` as the deployment makes it: deployed names, region and endpoint."""
        if call.region != self.local.region:
            raise Untranslatable(f"{call.service}.{call.operation} in {call.region!r}")
        params = {key: self._param(call, key, value) for key, value in call.params.items()}
        endpoint = None
        if call.service == "apigatewaymanagementapi":  # the endpoint names the API and stage
            endpoint = self._name("endpoint", (call.endpoint or "").rstrip("/"))
        return replace(call, region=self.region, params=params, endpoint=endpoint)


def translation_lines(rows: Iterable[Row]) -> list[str]:
    return [f"{r.kind:9} {r.local} -> {r.field} -> {r.deployed or r.why}" for r in rows]
