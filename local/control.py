"""The local stack's own endpoints (not part of the product's API): ``GET /_local/status``, what
runs and how busy it is, and ``POST /_local/<action>``, the operations the tests and the CLI use
(crash an engine, add or confirm a user as the operator would, make a user an operator, run the
reconciliation now, write what the archive poller holds now, disable or enable an SQS function's
event source mapping).

Both read the stack's parts when called, so they answer for whatever has started.
"""

import asyncio
import base64
import functools
import json
from collections.abc import Mapping
from typing import Any, Protocol

from psycopg_pool import ConnectionPool

from exchange.testing.lambda_events import scheduled_event
from local import accounts
from local.aws import AwsResources, MotoServer, client
from local.engine import EngineTask
from local.functions import FunctionHost
from local.gateway.websocket import WebSocketApi
from local.mailbox import Mailbox
from local.operations import Operations
from local.outside import Outside
from local.pollers import Pollers
from local.sqs import QueuePollers


class RunningStack(Protocol):
    """The parts of ``local.stack.Stack`` these endpoints read."""

    functions: FunctionHost | None
    pollers: Pollers | None
    queue_pollers: QueuePollers | None
    operations: Operations | None
    engines: list[EngineTask]
    moto: MotoServer | None
    websocket: WebSocketApi | None
    url: str
    mailbox: Mailbox
    outside: Outside

    @property
    def resources(self) -> AwsResources: ...

    @property
    def pool(self) -> ConnectionPool: ...


def status(stack: RunningStack) -> Mapping[str, Any]:
    host = stack.functions
    pollers = stack.pollers
    websocket = stack.websocket
    return {
        "functions": {
            name: {
                "invocations": host.invocations[name],
                "errors": host.errors[name],
                "busy_ms": round(host.busy_ms[name], 1),
            }
            for name in host.specs
        }
        if host
        else {},
        "pollers": pollers.status() if pollers else {},
        "stream_failures": [f for p in (pollers.pollers if pollers else []) for f in p.failures],
        # The SQS event source mappings (the dead man's switch's timers).
        "queue_pollers": stack.queue_pollers.status() if stack.queue_pollers else {},
        # The scheduled functions' rules and the dead-letter queues' mapping.
        "operations": stack.operations.status() if stack.operations else {},
        "engines": {task.shard: task.status() for task in stack.engines},
        # The fake payment provider, the topics, the archive poller.
        "outside": stack.outside.status(),
        "moto": stack.moto.timings() if stack.moto else {},
        "dynamodb_write_units": stack.moto.write_units() if stack.moto else {},
        "websocket": {
            "connections": len(websocket.live) if websocket else 0,
            "posted": websocket.posted if websocket else 0,
            "gone": websocket.gone if websocket else 0,
        },
    }


async def control(stack: RunningStack, action: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """Local-only operations the tests and the CLI use (``POST /_local/<action>``); KeyError for
    an unknown action or a missing field (the gateway answers 404)."""
    if action == "engine/crash":
        shard = str(body.get("shard", "s1"))
        task = {t.shard: t for t in stack.engines}[shard]
        task.crash()
        return {"crashed": shard}
    if action == "dead-letter":  # a command in a shard's dead-letter queue, as the broker puts it
        shard, payload = str(body.get("shard", "s1")), base64.b64decode(str(body["body"]))
        if stack.operations is None:
            raise KeyError("operations")
        await asyncio.to_thread(stack.operations.dead_letters.inject, shard, payload)
        return {"dead_lettered": shard}
    if action == "reconcile":  # what the 15-minute rule does, now
        return await _reconcile(stack)
    if action == "archive/flush":  # the archive poller writes what it holds, now
        return await asyncio.to_thread(stack.outside.flush_archive)
    if action in ("mappings/disable", "mappings/enable"):  # UpdateEventSourceMapping Enabled
        if stack.queue_pollers is None:
            raise KeyError("queue_pollers")
        function, enabled = str(body["function"]), action == "mappings/enable"
        queues = stack.queue_pollers.set_enabled(function, enabled)
        return {"function": function, "enabled": enabled, "queues": queues}
    return await _users(stack, action, body)


async def _reconcile(stack: RunningStack) -> Mapping[str, Any]:
    """Run the reconciliation function once, as its rule does: ``summary`` is what it returns
    (clean, drift per check, where the report went), ``report`` the JSON report it wrote to
    the reports bucket (what is in flight, what drifted), read back from moto."""
    if stack.functions is None:
        raise KeyError("functions")
    event = scheduled_event("reconciliation")
    summary = await stack.functions.ainvoke("reconciliation", event)
    location = summary.get("report") if isinstance(summary, dict) else None
    report = None
    if isinstance(location, str) and location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        s3 = client("s3", stack.resources.endpoint_url)
        answer = await asyncio.to_thread(s3.get_object, Bucket=bucket, Key=key)
        report = json.loads(answer["Body"].read())
    return {"summary": summary, "report": report}


async def _users(stack: RunningStack, action: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The controls that act in Cognito as a user or an administrator would."""
    aws = stack.resources
    cognito = client("cognito-idp", aws.endpoint_url)
    if action == "users":  # signed up, confirmed (the trigger opens the account), KYC passed
        email, password = str(body["email"]), str(body["password"])
        account_id = await asyncio.to_thread(
            functools.partial(
                accounts.onboard,
                cognito,
                user_pool_id=aws.user_pool_id,
                app_client_id=aws.app_client_id,
                api_url=stack.url,
                kyc_secret=aws.kyc_secret,
                email=email,
                password=password,
            )
        )
        return {"email": email, "account_id": account_id}
    if action == "mailbox":  # the user's inbox: the sign-up code Cognito would email
        email = str(body["email"])
        code = stack.mailbox.code(email)
        if code is None:
            raise KeyError(f"no code sent to {email}")
        return {"email": email, "code": code}
    if action == "users/confirm":  # the operator confirms a self sign-up (the trigger runs)
        email = str(body["email"])
        await asyncio.to_thread(accounts.confirm, cognito, aws.user_pool_id, email)
        account_id = await asyncio.to_thread(
            accounts.account_id_of, cognito, aws.user_pool_id, email
        )
        return {"email": email, "account_id": account_id}
    if action == "operator":  # an administrator adds the user to the operators group
        username = str(body["username"])
        try:
            groups = await asyncio.to_thread(
                accounts.make_operator, cognito, aws.user_pool_id, username
            )
        except cognito.exceptions.UserNotFoundException as exc:
            raise KeyError(f"no user {username}") from exc
        # As in Cognito: tokens issued before do not name the group; sign in again.
        return {"username": username, "groups": groups, "sign_in_again": True}
    raise KeyError(action)
