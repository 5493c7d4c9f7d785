"""The running stack's state file: what clients, the CLI (``~/.exchange/local-stack.json``) and
the e2e tests need to reach it (URLs, moto's endpoint, Cognito, the webhook secrets, services,
queues and topics, the fake payment provider, the archive directory), and the trading console's
``config.json`` made of the same values."""

import dataclasses
import os
from pathlib import Path
from typing import Any, Protocol

from exchange.domain import InstrumentCatalog
from exchange.settings import env_var
from lambdas.catalog import FUNCTIONS
from local.accounts import DemoUser
from local.aws import REGION, AwsResources
from local.engine import EngineTask
from local.gateway.console import ConsoleConfig
from local.options import StackOptions
from local.outside import Outside
from local.services import Service
from local.sqs import LocalQueue


class RunningStack(Protocol):
    """The parts of ``local.stack.Stack`` the state is made of."""

    options: StackOptions
    services: dict[str, Service]
    engines: list[EngineTask]
    demo_users: list[DemoUser]
    queues: dict[str, LocalQueue]
    outside: Outside
    url: str
    workdir: Path

    @property
    def resources(self) -> AwsResources: ...

    def lambda_environments(self) -> dict[str, dict[str, str]]: ...


# Settings whose local values the IAM check and the tests read from the state file (the values the
# functions got: local.environment).
SHARED_SETTINGS = (
    "payout_queue_url",
    "notifications_topic_arn",
    "email_sender",
    "email_configuration_set",
    "payout_provider_secret_arn",
)


def settings_of(environments: dict[str, dict[str, str]]) -> dict[str, str]:
    """Each of ``SHARED_SETTINGS`` as the functions that read it got it (the first one's)."""
    found: dict[str, str] = {}
    for name, environment in sorted(environments.items()):
        model = FUNCTIONS[name].settings
        for field in SHARED_SETTINGS:
            if field in model.model_fields and env_var(model, field) in environment:
                found.setdefault(field, environment[env_var(model, field)])
    return found


def ws_url_of(api_url: str) -> str:
    """The gateway's WebSocket API (``/ws``) for its base URL."""
    return api_url.replace("http", "ws", 1) + "/ws"


def console_config(api_url: str, aws: AwsResources) -> ConsoleConfig:
    """The console's ``config.json`` (``local.gateway.console``): this stack's API, WebSocket
    API, app client and Cognito (moto's endpoint, which answers browsers' CORS as Cognito
    does)."""
    return ConsoleConfig(
        api_url=api_url,
        ws_url=ws_url_of(api_url),
        region=REGION,
        user_pool_client_id=aws.app_client_id,
        cognito_endpoint=aws.endpoint_url,
    )


def stack_state(stack: RunningStack) -> dict[str, Any]:
    aws = stack.resources
    return {
        "pid": os.getpid(),
        "api_url": stack.url,
        "ws_url": ws_url_of(stack.url),
        "console_url": f"{stack.url}/",
        "aws_endpoint_url": aws.endpoint_url,
        "region": REGION,
        "user_pool_id": aws.user_pool_id,
        "app_client_id": aws.app_client_id,
        "webhook_secret": aws.webhook_secret,
        "kyc_webhook_secret": aws.kyc_secret,
        "database_url": stack.services["PostgreSQL"].url,
        "redis_url": stack.services["Redis"].url,
        "broker_url": stack.services["RabbitMQ"].url,
        "services": {name: s.kind for name, s in stack.services.items()},
        "engines": {task.shard: task.status() for task in stack.engines},
        "demo_users": [dataclasses.asdict(u) for u in stack.demo_users],
        "workdir": str(stack.workdir),
        "queues": {logical: queue.url for logical, queue in stack.queues.items()},
        "api_key_kms_key_arn": aws.api_key_kms_key_arn,
        "symbols": InstrumentCatalog.demo().symbols,
        "payout_provider_url": stack.outside.provider_url,
        "destination_delay_s": stack.options.destination_delay_s,
        "archive_dir": str(stack.outside.archive_dir),
        "topics": {logical: topic.arn for logical, topic in stack.outside.topics.items()},
        "tables": dict(aws.table_names),
        "settings": settings_of(stack.lambda_environments()),
    }
