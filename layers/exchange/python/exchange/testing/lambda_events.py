"""The events AWS delivers to Lambda, and a Lambda context, built once for every caller: the local
gateway and the local Kinesis pollers (``local``), the tests and the benchmarks.

- ``rest_proxy_event``: an API Gateway REST API proxy event (payload format 1.0) from the parts of
  an HTTP request; ``rest_event`` is the tests' shorthand for it.
- ``kinesis_record`` and ``kinesis_event``: an event source mapping's Kinesis batch, from the
  records ``GetRecords`` returns.
- ``scheduled_event``: what an EventBridge schedule rule sends its target.
- ``rabbitmq_message`` and ``rabbitmq_event``: an Amazon MQ (RabbitMQ) event source mapping's
  batch, messages grouped by ``<queue>::<virtual host>``, bodies base64, string headers as bytes.
- ``cognito_post_confirmation_event``: what a user pool sends its post-confirmation trigger.
- ``LambdaContextStub``: the attributes of the runtime's context that Powertools and handlers read.

Values follow what AWS sends: multi-value headers and query strings beside the single-value ones
(last value wins), ``None`` rather than ``{}`` when there are none, the body as a string (base64
when it is not UTF-8), and authorizer claims as strings.

>>> event = rest_event("GET", "/v1/orders/01HF", account_id="alice", resource="/v1/orders/{id}")
>>> event["requestContext"]["authorizer"]["claims"]["sub"], event["resource"]
('alice', '/v1/orders/{id}')
>>> record = {"Data": b"x", "PartitionKey": "BTC-USD", "SequenceNumber": "1"}
>>> kinesis_event([record], stream="journal")["Records"][0]["kinesis"]["data"]
'eA=='
>>> scheduled_event("reconciler")["detail-type"]
'Scheduled Event'
>>> message = rabbitmq_message(b"x", headers={"x-first-death-reason": "rejected"})
>>> batch = rabbitmq_event({"engine.s1.dlq": [message]})["rmqMessagesByQueue"]
>>> batch["engine.s1.dlq::/"][0]["data"]
'eA=='
>>> message["basicProperties"]["headers"]["x-first-death-reason"]["bytes"][:2]
[114, 101]
>>> confirmed = cognito_post_confirmation_event("a-1", "a@example.com")
>>> confirmed["triggerSource"], confirmed["request"]["userAttributes"]["sub"]
('PostConfirmation_ConfirmSignUp', 'a-1')
"""

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ACCOUNT_ID: Final = "000000000000"
REGION: Final = "us-east-1"
API_ID: Final = "local"
FIRST_SHARD: Final = "shardId-000000000000"


# --- Lambda context -----------------------------------------------------------------------------


@dataclass(slots=True)
class LambdaContextStub:
    """What Powertools and the handlers read from a Lambda context. The remaining time counts
    down from ``timeout_seconds`` as in Lambda."""

    function_name: str = "exchange-local"
    timeout_seconds: float = 10.0
    aws_request_id: str = "local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    log_stream_name: str = "local"
    region: str = REGION
    _deadline: float = field(init=False, repr=False, default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- API Gateway REST -----------------------------------------------------------------------------


def single_and_multi(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """Headers or query parameters as API Gateway passes them: the last value of each name, and
    every value of each name; ``(None, None)`` when there are none."""
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {key: values[-1] for key, values in multi.items()}, multi


def _claim_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # API Gateway's REST Cognito authorizer joins an array claim (cognito:groups) with commas,
        # no spaces (exchange.admin.auth pins the sources).
        return ",".join(str(item) for item in value)
    return str(value)


def rest_proxy_event(
    method: str,
    path: str,
    *,
    resource: str,
    stage: str,
    headers: Iterable[tuple[str, str]] = (),
    query: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    is_base64: bool = False,
    path_parameters: Mapping[str, str] | None = None,
    claims: Mapping[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The proxy event API Gateway's REST API sends for a request on ``resource``. ``claims``
    (the Cognito authorizer's) are passed on as strings; None means a route without authorizer."""
    single_headers, multi_headers = single_and_multi(headers)
    single_query, multi_query = single_and_multi(query)
    now = time.time()
    found = single_headers or {}
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": found.get("Host", "localhost"),
        "domainPrefix": "localhost",
        "extendedRequestId": uuid.uuid4().hex,
        "httpMethod": method,
        "identity": {
            "sourceIp": source_ip,
            "userAgent": found.get("User-Agent") or found.get("user-agent"),
        },
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id or str(uuid.uuid4()),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": stage,
    }
    if claims is not None:
        request_context["authorizer"] = {
            "claims": {key: _claim_string(value) for key, value in claims.items()}
        }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": is_base64,
    }


def rest_event(
    method: str,
    path: str,
    *,
    body: str | bytes | Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    account_id: str | None = None,
    claims: Mapping[str, str] | None = None,
    base64_body: bool = False,
    request_id: str | None = None,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``rest_proxy_event`` for tests: the Cognito-authorized API's event on stage ``prod``.

    ``body`` may be a mapping (sent as JSON, with ``Content-Type: application/json``), text, or
    bytes (sent base64-encoded); ``account_id`` becomes the ``sub`` claim.
    """
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    text: str | None
    if isinstance(body, Mapping):
        text = json.dumps(body)
    elif isinstance(body, bytes):
        text, base64_body = base64.b64encode(body).decode(), True
    else:
        text = body
    all_claims: dict[str, str] | None = None
    if account_id is not None or claims:
        all_claims = {**({"sub": account_id} if account_id else {}), **(claims or {})}
    return rest_proxy_event(
        method,
        path,
        resource=resource or path,
        stage="prod",
        headers=all_headers.items(),
        query=(query or {}).items(),
        body=text,
        is_base64=base64_body,
        path_parameters=path_parameters,
        claims=all_claims,
        request_id=request_id,
    )


# --- Kinesis --------------------------------------------------------------------------------------


def stream_arn(stream: str, region: str = REGION) -> str:
    return f"arn:aws:kinesis:{region}:{ACCOUNT_ID}:stream/{stream}"


def _epoch(value: object) -> float:
    # GetRecords returns a datetime; records made up by tests may have none.
    return value.timestamp() if isinstance(value, dt.datetime) else time.time()


def kinesis_record(
    item: Mapping[str, Any],
    *,
    stream_arn: str,
    shard_id: str = FIRST_SHARD,
    function: str = "local",
    region: str = REGION,
) -> dict[str, Any]:
    """One record of an event source mapping's batch for ``function``, from one record of
    ``GetRecords`` (``Data``, ``PartitionKey``, ``SequenceNumber``)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": item["PartitionKey"],
            "sequenceNumber": item["SequenceNumber"],
            "data": base64.b64encode(item["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": _epoch(item.get("ApproximateArrivalTimestamp")),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{item['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{function}",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def kinesis_event(
    records: Iterable[Mapping[str, Any]], *, stream: str, region: str = REGION
) -> dict[str, Any]:
    """The Kinesis event an event source mapping delivers, from ``GetRecords`` output (tests and
    benchmarks; the local pollers build theirs record by record with ``kinesis_record``)."""
    arn = stream_arn(stream, region)
    return {"Records": [kinesis_record(item, stream_arn=arn, region=region) for item in records]}


# --- EventBridge ----------------------------------------------------------------------------------


def scheduled_event(
    rule: str, *, now_s: float | None = None, region: str = REGION
) -> dict[str, Any]:
    """The event an EventBridge schedule rule named ``rule`` sends its target."""
    fired = time.gmtime(time.time() if now_s is None else now_s)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", fired),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


# --- Amazon MQ (RabbitMQ) -------------------------------------------------------------------------


def rabbitmq_message(
    body: bytes,
    *,
    headers: Mapping[str, str | int] | None = None,
    content_type: str | None = None,
    redelivered: bool = False,
) -> dict[str, Any]:
    """One message of an Amazon MQ batch: its body base64, its string headers as byte lists (as
    Lambda passes them), numbers as they are."""
    return {
        "basicProperties": {
            "contentType": content_type,
            "contentEncoding": None,
            "headers": {
                name: {"bytes": list(value.encode())} if isinstance(value, str) else value
                for name, value in (headers or {}).items()
            },
            "deliveryMode": 2,
            "priority": None,
            "correlationId": None,
            "replyTo": None,
            "expiration": None,
            "messageId": None,
            "timestamp": None,
            "type": None,
            "userId": None,
            "appId": None,
            "clusterId": None,
            "bodySize": len(body),
        },
        "redelivered": redelivered,
        "data": base64.b64encode(body).decode("ascii"),
    }


def rabbitmq_event(
    messages_by_queue: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    virtual_host: str = "/",
    broker: str = "local",
    region: str = REGION,
) -> dict[str, Any]:
    """The batch an Amazon MQ event source mapping on RabbitMQ delivers: ``messages_by_queue``
    (``rabbitmq_message``s by queue name) keyed ``<queue>::<virtual host>``."""
    return {
        "eventSource": "aws:rmq",
        "eventSourceArn": f"arn:aws:mq:{region}:{ACCOUNT_ID}:broker:{broker}:b-{API_ID}",
        "rmqMessagesByQueue": {
            f"{queue}::{virtual_host}": [dict(message) for message in messages]
            for queue, messages in messages_by_queue.items()
        },
    }


# --- Amazon Cognito -------------------------------------------------------------------------------


def cognito_post_confirmation_event(
    sub: str,
    email: str | None,
    *,
    trigger_source: str = "PostConfirmation_ConfirmSignUp",
    user_pool_id: str = f"{REGION}_local",
    client_id: str = "local-client",
    username: str | None = None,
    client_metadata: Mapping[str, str] | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """The event a user pool sends its post-confirmation trigger after ConfirmSignUp or
    AdminConfirmSignUp (``PostConfirmation_ConfirmSignUp``) or ConfirmForgotPassword
    (``PostConfirmation_ConfirmForgotPassword``): the common trigger parameters, the user's
    current attributes (strings) and the caller's client metadata, and an empty response
    ("Post confirmation Lambda trigger"; "Customizing user pool workflows with Lambda triggers",
    Amazon Cognito Developer Guide). The trigger must return it."""
    attributes = {"sub": sub, "cognito:user_status": "CONFIRMED"}
    if email is not None:
        attributes |= {"email": email, "email_verified": "true"}
    request: dict[str, Any] = {"userAttributes": attributes}
    if client_metadata is not None:
        request["clientMetadata"] = dict(client_metadata)
    return {
        "version": "1",
        "triggerSource": trigger_source,
        "region": region,
        "userPoolId": user_pool_id,
        "userName": username or sub,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "request": request,
        "response": {},
    }
