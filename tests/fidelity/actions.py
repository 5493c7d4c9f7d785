"""What an AWS API call needs from IAM: each (action, resource ARN) the call is authorized by.

From the Service Authorization Reference ("Actions, resources, and condition keys for ..."):

- Amazon DynamoDB: an item or table operation is the action of its name on the table
  (``arn:aws:dynamodb:<region>:<account>:table/<name>``); ``Query`` and ``Scan`` with an
  ``IndexName`` are on the index (``.../table/<name>/index/<index>``). ``BatchGetItem`` and
  ``BatchWriteItem`` are authorized per table they name. ``TransactWriteItems`` and
  ``TransactGetItems`` are no IAM actions: each item needs its own operation's action
  (``Put`` -> ``PutItem``, ``Update`` -> ``UpdateItem``, ``Delete`` -> ``DeleteItem``,
  ``ConditionCheck`` -> ``ConditionCheckItem``, ``Get`` -> ``GetItem``; "Using IAM with DynamoDB
  transactions").
- Amazon Kinesis Data Streams: stream operations on ``arn:aws:kinesis:<region>:<account>:stream/
  <name>``; ``SubscribeToShard`` and ``DescribeStreamConsumer`` on the consumer's ARN.
- Amazon S3: object operations on ``arn:aws:s3:::<bucket>/<key>`` (``HeadObject`` is
  ``s3:GetObject``; with a ``VersionId``, ``s3:GetObjectVersion``), ``ListObjectsV2`` and
  ``HeadBucket`` are ``s3:ListBucket`` on ``arn:aws:s3:::<bucket>`` (condition key ``s3:prefix``).
- AWS Secrets Manager: secret operations on the secret's ARN.
- Amazon API Gateway Management API: ``PostToConnection``, ``GetConnection`` and
  ``DeleteConnection`` are ``execute-api:ManageConnections`` on ``arn:aws:execute-api:<region>:
  <account>:<api-id>/<stage>/<METHOD>/@connections/<connection-id>`` ("Control access to
  WebSocket APIs with IAM authorization": the @connections API takes the REST API ARN format,
  method then path; the API and stage come from the client's endpoint, ``https://<api-id>.
  execute-api.<region>.amazonaws.com/<stage>``).
- Amazon CloudWatch: ``PutMetricData`` has no resource-level permission (``*``; condition key
  ``cloudwatch:namespace``).
- Amazon Cognito user pools: ``Admin*`` and the other IAM-authorized operations on the pool
  (``arn:aws:cognito-idp:<region>:<account>:userpool/<id>``); the public sign-up and sign-in
  operations are authorized by no IAM policy ("Amazon Cognito user pools API operations:
  unauthenticated").
- AWS KMS: ``Encrypt``, ``Decrypt``, ``GenerateDataKey`` and ``DescribeKey`` on the key
  (``arn:aws:kms:<region>:<account>:key/<key id>``; ``KeyId`` may be the key's ARN or id). A
  ``Decrypt`` without ``KeyId`` names its key only inside the ciphertext: unmapped. The request's
  encryption context is what ``kms:EncryptionContextKeys`` and ``kms:EncryptionContext:<key>``
  are evaluated against ("AWS KMS condition keys").
- Amazon SQS: each operation on the queue (``arn:aws:sqs:<region>:<account>:<name>``, from its
  ``QueueUrl`` ``https://sqs.<region>.amazonaws.com/<account>/<name>``); the ``...Batch``
  operations are their single operation's action (``SendMessageBatch`` -> ``sqs:SendMessage``,
  ``DeleteMessageBatch`` -> ``sqs:DeleteMessage``, ``ChangeMessageVisibilityBatch`` ->
  ``sqs:ChangeMessageVisibility``: "Amazon SQS API permissions: Actions and resource reference").

- Amazon SNS: ``Publish`` is ``sns:Publish`` on the topic (its ``TopicArn``).
- Amazon SES v2: ``SendEmail`` is ``ses:SendEmail`` on the identity it sends from and on the
  configuration set it names ("Actions, resources, and condition keys for Amazon Simple Email
  Service v2": ``arn:aws:ses:<region>:<account>:identity/<identity>`` and
  ``.../configuration-set/<name>``); the identity is the sender address's domain (the stacks verify
  a domain identity, which covers every address of it), or ``FromEmailAddressIdentityArn`` when
  the call names one.

A call of any other operation, or one whose parameters do not name its resource, is ``Unmapped``:
the check reports it, it never lets it pass.

``key_requirements`` (``tests.fidelity.service_keys``) adds what a service asks AWS KMS for on
the caller's behalf.
"""

import re
from typing import Final

from tests.fidelity.calls import PARTITION, Call, Requirement, Unmapped, param
from tests.fidelity.service_keys import key_requirements

__all__ = ["PARTITION", "Call", "Requirement", "Unmapped", "key_requirements", "requirements"]

_DYNAMODB_TABLE: Final = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "UpdateTimeToLive",
        "CreateTable",
        "DeleteTable",
        "UpdateTable",
        "DescribeContinuousBackups",
    }
)
_TRANSACT_ACTIONS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_KINESIS_STREAM: Final = frozenset(
    {
        "PutRecord",
        "PutRecords",
        "GetRecords",
        "GetShardIterator",
        "DescribeStream",
        "DescribeStreamSummary",
        "ListShards",
        "CreateStream",
        "DeleteStream",
        "RegisterStreamConsumer",
        "ListStreamConsumers",
        "AddTagsToStream",
        "ListTagsForStream",
        "UpdateShardCount",
    }
)
_KINESIS_CONSUMER: Final = frozenset({"SubscribeToShard", "DescribeStreamConsumer"})
_S3_OBJECT: Final = {
    "PutObject": "s3:PutObject",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "DeleteObject": "s3:DeleteObject",
}
_S3_BUCKET: Final = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketVersioning": "s3:GetBucketVersioning",
}
_SECRET: Final = frozenset(
    {
        "GetSecretValue",
        "DescribeSecret",
        "PutSecretValue",
        "UpdateSecret",
        "DeleteSecret",
        "RotateSecret",
        "CreateSecret",
    }
)
_CONNECTION_METHODS: Final = {
    "PostToConnection": "POST",
    "GetConnection": "GET",
    "DeleteConnection": "DELETE",
}
_COGNITO_POOL: Final = frozenset(
    {
        "AdminGetUser",
        "AdminCreateUser",
        "AdminConfirmSignUp",
        "AdminSetUserPassword",
        "AdminUpdateUserAttributes",
        "AdminDeleteUser",
        "AdminAddUserToGroup",
        "AdminListGroupsForUser",
        "ListUsers",
        "DescribeUserPool",
        "CreateUserPoolClient",
    }
)
_COGNITO_PUBLIC: Final = frozenset(
    {"SignUp", "ConfirmSignUp", "InitiateAuth", "RespondToAuthChallenge", "GetUser"}
)
_WITHOUT_RESOURCE: Final = {
    ("dynamodb", "ListTables"): "dynamodb:ListTables",
    ("kinesis", "ListStreams"): "kinesis:ListStreams",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("secretsmanager", "ListSecrets"): "secretsmanager:ListSecrets",
    ("secretsmanager", "GetRandomPassword"): "secretsmanager:GetRandomPassword",
    ("cognito-idp", "CreateUserPool"): "cognito-idp:CreateUserPool",
}
_KMS_KEY: Final = frozenset({"Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"})
_SQS_QUEUE: Final = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "GetQueueUrl": "sqs:GetQueueUrl",
    "PurgeQueue": "sqs:PurgeQueue",
    "CreateQueue": "sqs:CreateQueue",
}
_QUEUE_URL: Final = re.compile(
    r"^https://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<account>\d{12})/(?P<name>[^/]+)$"
)
_STAGE_ENDPOINT: Final = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<stage>[^/]+)$"
)


def table_arn(region: str, account: str, table: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{table}"


def stream_arn(region: str, account: str, stream: str) -> str:
    return f"arn:{PARTITION}:kinesis:{region}:{account}:stream/{stream}"


def secret_arn(region: str, account: str, secret: str) -> str:
    """The secret's ARN: as given, or from its name with IAM's ``-??????`` for the random suffix
    Secrets Manager appends (a name alone does not say which)."""
    if secret.startswith("arn:"):
        return secret
    return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{secret}-??????"


def _dynamodb(call: Call, account: str) -> list[Requirement]:
    op, region = call.operation, call.region
    if op in _DYNAMODB_TABLE:
        return [Requirement(f"dynamodb:{op}", table_arn(region, account, param(call, "TableName")))]
    if op in {"Query", "Scan"}:
        resource = table_arn(region, account, param(call, "TableName"))
        index = call.params.get("IndexName")
        return [Requirement(f"dynamodb:{op}", f"{resource}/index/{index}" if index else resource)]
    if op in {"BatchGetItem", "BatchWriteItem"}:
        tables = call.params.get("RequestItems") or {}
        if not tables:
            raise Unmapped(f"dynamodb.{op} without RequestItems")
        return [
            Requirement(f"dynamodb:{op}", table_arn(region, account, t)) for t in sorted(tables)
        ]
    if op in {"TransactWriteItems", "TransactGetItems"}:
        items = call.params.get("TransactItems") or []
        if not items:
            raise Unmapped(f"dynamodb.{op} without TransactItems")
        found = []
        for item in items:
            action = _TRANSACT_ACTIONS.get(str(item.get("kind")))
            table = item.get("TableName")
            if action is None or not table:
                raise Unmapped(f"dynamodb.{op} item {item!r}")
            found.append(Requirement(f"dynamodb:{action}", table_arn(region, account, table)))
        return found
    raise Unmapped(f"dynamodb.{op}")


def _kinesis(call: Call, account: str) -> list[Requirement]:
    op = call.operation
    if op in _KINESIS_STREAM:
        given = call.params.get("StreamARN")
        if isinstance(given, str) and given:
            return [Requirement(f"kinesis:{op}", given)]
        if op == "GetRecords" and "StreamName" not in call.params:
            raise Unmapped("kinesis.GetRecords from a shard iterator of an unknown stream")
        stream = param(call, "StreamName")
        return [Requirement(f"kinesis:{op}", stream_arn(call.region, account, stream))]
    if op in _KINESIS_CONSUMER:
        return [Requirement(f"kinesis:{op}", param(call, "ConsumerARN"))]
    raise Unmapped(f"kinesis.{op}")


def _s3(call: Call) -> list[Requirement]:
    op = call.operation
    bucket = param(call, "Bucket")
    if op in _S3_OBJECT:
        action = _S3_OBJECT[op]
        if action == "s3:GetObject" and call.params.get("VersionId"):
            action = "s3:GetObjectVersion"
        return [Requirement(action, f"arn:{PARTITION}:s3:::{bucket}/{param(call, 'Key')}")]
    if op in _S3_BUCKET:
        prefix = call.params.get("Prefix")
        context = {"s3:prefix": prefix} if isinstance(prefix, str) else {}
        return [Requirement(_S3_BUCKET[op], f"arn:{PARTITION}:s3:::{bucket}", context)]
    raise Unmapped(f"s3.{op}")


def _execute_api(call: Call, account: str) -> list[Requirement]:
    method = _CONNECTION_METHODS.get(call.operation)
    if method is None:
        raise Unmapped(f"apigatewaymanagementapi.{call.operation}")
    match = _STAGE_ENDPOINT.match((call.endpoint or "").rstrip("/"))
    if match is None:
        raise Unmapped(f"the endpoint {call.endpoint!r} names no API stage")
    connection = param(call, "ConnectionId")
    resource = (
        f"arn:{PARTITION}:execute-api:{match['region']}:{account}:"
        f"{match['api']}/{match['stage']}/{method}/@connections/{connection}"
    )
    return [Requirement("execute-api:ManageConnections", resource)]


def kms_key_arn(region: str, account: str, key: str) -> str:
    """A KMS key's ARN from ``KeyId`` as a request names it (its ARN or its id)."""
    if key.startswith("arn:"):
        return key
    if key.startswith("alias/"):
        raise Unmapped(f"KMS key named by alias {key!r}: IAM authorizes the key it points at")
    return f"arn:{PARTITION}:kms:{region}:{account}:key/{key}"


def _kms(call: Call, account: str) -> list[Requirement]:
    op = call.operation
    if op not in _KMS_KEY:
        raise Unmapped(f"kms.{op}")
    if "KeyId" not in call.params:
        raise Unmapped(f"kms.{op} without KeyId: its key is known only from the ciphertext")
    context: dict[str, str | tuple[str, ...]] = {"kms:CallerAccount": account}
    encryption_context = call.params.get("EncryptionContext") or {}
    if op != "DescribeKey":
        context["kms:EncryptionContextKeys"] = tuple(sorted(encryption_context))
        for name, value in encryption_context.items():
            context[f"kms:EncryptionContext:{name}"] = str(value)
    arn = kms_key_arn(call.region, account, param(call, "KeyId"))
    return [Requirement(f"kms:{op}", arn, context)]


def queue_arn(url: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` -> the queue's ARN."""
    match = _QUEUE_URL.match(url.rstrip("/"))
    if match is None:
        raise Unmapped(f"{url!r} is no SQS queue URL")
    return f"arn:{PARTITION}:sqs:{match['region']}:{match['account']}:{match['name']}"


def _sqs(call: Call, account: str) -> list[Requirement]:
    action = _SQS_QUEUE.get(call.operation)
    if action is None:
        raise Unmapped(f"sqs.{call.operation}")
    if call.operation in {"GetQueueUrl", "CreateQueue"}:
        name = param(call, "QueueName")
        return [Requirement(action, f"arn:{PARTITION}:sqs:{call.region}:{account}:{name}")]
    return [Requirement(action, queue_arn(param(call, "QueueUrl")))]


def _sesv2(call: Call, account: str) -> list[Requirement]:
    if call.operation != "SendEmail":
        raise Unmapped(f"sesv2.{call.operation}")
    prefix = f"arn:{PARTITION}:ses:{call.region}:{account}"
    identity = call.params.get("FromEmailAddressIdentityArn")
    if not isinstance(identity, str) or not identity:
        sender = param(call, "FromEmailAddress").rsplit("<", 1)[-1].rstrip(">")
        identity = f"{prefix}:identity/{sender.rsplit('@', 1)[-1]}"
    found = [Requirement("ses:SendEmail", identity)]
    configuration_set = call.params.get("ConfigurationSetName")
    if isinstance(configuration_set, str) and configuration_set:
        found.append(
            Requirement("ses:SendEmail", f"{prefix}:configuration-set/{configuration_set}")
        )
    return found


def requirements(call: Call, *, account: str) -> list[Requirement]:  # noqa: PLR0911, PLR0912 - per service
    """Each (action, resource) ``call`` needs, in ``account`` and the call's region."""
    service, op = call.service, call.operation
    if (service, op) in _WITHOUT_RESOURCE:
        return [Requirement(_WITHOUT_RESOURCE[service, op], "*")]
    match service:
        case "dynamodb":
            return _dynamodb(call, account)
        case "kinesis":
            return _kinesis(call, account)
        case "s3":
            return _s3(call)
        case "secretsmanager" if op in _SECRET:
            secret = param(call, "Name" if op == "CreateSecret" else "SecretId")
            return [Requirement(f"secretsmanager:{op}", secret_arn(call.region, account, secret))]
        case "apigatewaymanagementapi":
            return _execute_api(call, account)
        case "kms":
            return _kms(call, account)
        case "sqs":
            return _sqs(call, account)
        case "sns" if op == "Publish":
            return [Requirement("sns:Publish", param(call, "TopicArn"))]
        case "sesv2":
            return _sesv2(call, account)
        case "cloudwatch" if op == "PutMetricData":
            namespace = call.params.get("Namespace")
            context = {"cloudwatch:namespace": namespace} if isinstance(namespace, str) else {}
            return [Requirement("cloudwatch:PutMetricData", "*", context)]
        case "cognito-idp" if op in _COGNITO_PUBLIC:
            return []
        case "cognito-idp" if op in _COGNITO_POOL:
            pool = param(call, "UserPoolId")
            arn = f"arn:{PARTITION}:cognito-idp:{call.region}:{account}:userpool/{pool}"
            return [Requirement(f"cognito-idp:{op}", arn)]
    raise Unmapped(f"{service}.{op}")
