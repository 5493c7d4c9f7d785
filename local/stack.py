"""The whole exchange on one machine: services, moto, the engine, the Lambdas behind the local
gateway, the event source mappings' pollers (the journal's, the SQS queues') and the scheduled
rules' stand-ins, started in dependency order and stopped in reverse.

``Stack.start`` returns once everything answers; ``Stack.stop`` undoes every step that ran, also
after a failed start, so nothing is left running and no temporary directory remains.
"""

import asyncio
import contextlib
import functools
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from psycopg_pool import ConnectionPool

from exchange.instruments.composition import live_catalog
from exchange.messaging import ShardMap
from exchange.settings import OrdersSettings, settings_from_environment
from local import accounts, control, event_sources, services
from local import environment as twin_env
from local.aws import AwsResources, MotoServer, client, provision
from local.broker import InMemoryBroker, InProcessPublisher, publish_in_process
from local.cfn import TemplateError
from local.engine import (
    EngineProcess,
    EngineTask,
    EngineThread,
    engine_env,
    engine_settings,
    engines_core,
    kill_all,
)
from local.functions import FunctionHost
from local.gateway.app import build_app
from local.gateway.auth import CognitoAuthorizer
from local.gateway.responses import GatewayResponses
from local.gateway.routes import RestRoutes, WsRoutes
from local.gateway.websocket import WebSocketApi, expiry_loop
from local.mailbox import Mailbox, emails
from local.operations import Operations, operations_for, schedule_periods
from local.options import StackOptions, free_port
from local.outside import Outside
from local.pollers import Pollers
from local.sqs import LocalQueue, QueuePollers, local_names, provision_queues
from local.state import console_config, stack_state
from local.template import Deployment
from local.triggers import CognitoTriggers

DEMO_EMAILS = ("alice@example.com", "bob@example.com", "maker@example.com")


def instruments_seeded(report: Mapping[str, Any]) -> int:
    """How many symbols the migrate function seeded into the instruments table; TemplateError
    when it seeds none because the deployment gives it no table (the engines and the API would
    then know only the static file, and a listing would not survive a restart)."""
    seeded = report.get("instruments_seeded")
    if not isinstance(seeded, int):
        raise TemplateError("the migrate function has no instruments table: nothing is seeded")
    return seeded


class NotStarted(RuntimeError):
    """A part of the stack was used before it started."""


class Stack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._undo: list[Callable[[], object]] = []
        self.services: dict[str, services.Service] = {}
        self.aws: AwsResources | None = None
        self.moto: MotoServer | None = None
        self.functions: FunctionHost | None = None
        self.websocket: WebSocketApi | None = None
        self.engines: list[EngineTask] = []
        self.pollers: Pollers | None = None
        self.queue_pollers: QueuePollers | None = None
        self.queues: dict[str, LocalQueue] = {}  # the template's SQS queues, by logical id
        self.operations: Operations | None = None
        # Signs the engines' snapshots; the reconciliation function checks them with it.
        self.snapshot_key = secrets.token_hex(32)
        self.in_process_broker = InMemoryBroker()  # used only without RabbitMQ
        self.publisher: InProcessPublisher | None = None
        self.demo_users: list[accounts.DemoUser] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._background: list[asyncio.Task[None]] = []
        self._pool: ConnectionPool | None = None
        self.workdir = Path()
        self.deployment: Deployment | None = None
        self.mailbox = Mailbox()  # the sign-up codes Cognito would email
        # The payment provider (fake), SNS and SES (moto), the archive (Firehose's stand-in).
        self.outside = Outside(
            archive_dir=options.archive_dir, provider_delay_s=options.payout_provider_delay_s
        )

    # -- start -----------------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._start_backends)
            await self._start_gateway()
            await asyncio.to_thread(self._start_engines_and_pollers)
            if self.options.seed:
                await asyncio.to_thread(self._seed)
            self._write_state()
        except BaseException:
            await self.stop()
            raise

    def _start_backends(self) -> None:
        options = self.options
        self.workdir, remove_workdir = services.make_workdir(options.workdir)
        self._undo.append(remove_workdir)
        self._use(
            services.postgres(options.database_url, embedded=options.embedded, workdir=self.workdir)
        )
        self._use(
            services.redis_service(
                options.redis_url, embedded=options.embedded, workdir=self.workdir
            )
        )
        self._use(services.rabbitmq(options.broker_url, embedded=options.embedded))
        moto = MotoServer(options.host)
        self.moto = moto
        endpoint = moto.start()
        self._undo.append(moto.stop)
        self.aws = provision(endpoint, journal_shards=options.journal_shards)
        # What the CDK app deploys (synthesized once, then cached): the functions' environments,
        # routes, authorizers, gateway responses, queues, event source mappings and Cognito
        # triggers.
        self.deployment = Deployment.load()
        self.queues = provision_queues(
            client("sqs", endpoint), self.deployment.queues, local_names(self.deployment)
        )
        self.outside.provision(endpoint, self.deployment, self.queues)

    def _use(self, service: services.Service) -> None:
        self.services[service.name] = service
        self._undo.append(service.close)

    def _url(self, name: str) -> str:
        url = self.services[name].url
        if url is None:
            raise NotStarted(f"{name} has no URL (the in-process broker)")
        return url

    @property
    def resources(self) -> AwsResources:
        if self.aws is None:
            raise NotStarted("moto is not provisioned")
        return self.aws

    @property
    def host(self) -> FunctionHost:
        if self.functions is None:
            raise NotStarted("no Lambda host yet")
        return self.functions

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise NotStarted("no ledger pool yet")
        return self._pool

    async def _start_gateway(self) -> None:
        options = self.options
        port = options.port or free_port(options.host)
        self.url = f"http://{options.host}:{port}"
        deployment = self.twin
        os.environ.update(twin_env.RUNTIME_ENVIRONMENT)
        in_process_broker = self.services["RabbitMQ"].url is None
        self.functions = FunctionHost(
            timeouts={name: f.timeout_seconds for name, f in deployment.functions.items()},
            # A worker process cannot reach the in-process broker: all on threads then.
            processes={} if in_process_broker else options.workers,
        )
        self._undo.append(self.functions.close)
        # Before the payout worker gets its environment: its provider URL is the fake's.
        self._undo.append(self.outside.start_provider(self.url, self.resources))
        environments = self.lambda_environments()
        self.functions.configure(environments)
        self._undo.append(self._forget_settings)
        self._use_in_process_broker()
        await asyncio.to_thread(self._migrate)
        if self.moto is not None:
            triggers = CognitoTriggers(deployment.cognito_triggers, self.functions.invoke)
            self.moto.on_cognito(triggers, self.mailbox, self.resources.user_pool_id)
            self.outside.tell_password_changes(self.mailbox, self.resources, environments)
        self.websocket = WebSocketApi(self.functions, WsRoutes.from_deployment(deployment))
        aws = self.resources
        verifier = CognitoAuthorizer.for_pool(
            jwks_url=aws.jwks_url, issuer=aws.issuer, app_client_id=aws.app_client_id
        )
        app = build_app(
            self.functions,
            verifier,
            self.websocket,
            status=functools.partial(control.status, self),
            control=functools.partial(control.control, self),
            routes=RestRoutes.from_deployment(deployment),
            responses=GatewayResponses(deployment.gateway_responses),
            emails=emails,
            console=console_config(self.url, aws),
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, options.host, port).start()
        self._background.append(asyncio.create_task(expiry_loop(self.websocket)))
        if self.services["Redis"].kind.startswith("real"):
            self._background.append(asyncio.create_task(self._renew_redis_lease()))

    def _use_in_process_broker(self) -> None:
        """Without RabbitMQ, the functions that publish commands publish to the in-process
        broker (``local.broker.publish_in_process``), routing a symbol listed at run time as
        their own sinks do: by the live catalog's shard (the orders function's settings)."""
        if self.services["RabbitMQ"].url is None:
            orders = self.lambda_environments()["orders"]
            settings = settings_from_environment(OrdersSettings, orders)
            shards = ShardMap.demo(fallback=live_catalog(settings).shard_for)
            self.publisher = InProcessPublisher(self.in_process_broker, shards)
            publish_in_process(self.host, self.publisher)

    async def _renew_redis_lease(self) -> None:
        while True:
            await asyncio.to_thread(services.renew_lease, self._url("Redis"))
            await asyncio.sleep(services.LEASE_SECONDS / 3)

    @property
    def twin(self) -> Deployment:
        if self.deployment is None:
            raise NotStarted("the deployment is not read yet")
        return self.deployment

    def lambda_environments(self) -> dict[str, dict[str, str]]:
        """Each hosted Lambda's environment: its deployed variables with local values
        (``local.environment``)."""
        stand_ins = {logical: queue.attributes for logical, queue in self.queues.items()}
        stand_ins.update(self.outside.stand_ins)
        environments = twin_env.function_environments(self.twin, self._values(), stand_ins)
        # Local mode reconciles, and lets a new destination be used, on faster clocks.
        twin_env.shorten(
            environments,
            {
                "reconcile_after_seconds": str(self.options.reconcile_after_s),
                "destination_delay_seconds": str(self.options.destination_delay_s),
            },
        )
        return environments

    def _values(self) -> dict[str, str]:
        return twin_env.settings_values(
            self.resources,
            gateway_url=self.url,
            database_url=self._url("PostgreSQL"),
            redis_url=self._url("Redis"),
            broker_url=self.services["RabbitMQ"].url,
            snapshot_hmac_key=self.snapshot_key,
            payout_provider_url=self.outside.provider_url,
        )

    def _forget_settings(self) -> None:  # and overrides (the in-process broker's too)
        for name in filter(self.host.available, self.host.specs):
            self.host.root(name).reset()

    def _migrate(self) -> None:
        """What the deploy does (the CDK trigger): the migrate function migrates the ledger,
        gives each function's role its login, opens the fee account and seeds the instruments
        table from the static file (``InstrumentStore.seed``: version 1 of each symbol), before
        any engine reads it."""
        instruments_seeded(
            self.host.invoke("migrate", {"RequestType": "Create", "source": "local"})
        )
        self._pool = ConnectionPool(self._url("PostgreSQL"), min_size=1, max_size=4, open=True)
        self._undo.append(self._pool.close)

    def _start_engines_and_pollers(self) -> None:
        shard_map = ShardMap.demo()
        broker = self.services["RabbitMQ"]
        broker_url = broker.url
        if broker.shared and broker_url is not None:
            services.purge_shard_queues(broker_url, list(shard_map.shards))
        core = engines_core()
        self.engines = [
            self._engine(shard, symbols, broker_url, self.in_process_broker, core)
            for shard, symbols in shard_map.shards.items()
        ]
        self._undo.append(lambda: kill_all(self.engines))
        for task in self.engines:
            task.start()
        for task in self.engines:
            task.wait_ready(60)
        self._start_pollers()
        self.operations = operations_for(
            self.host.invoke,
            broker_url=broker_url,
            in_process=self.in_process_broker,
            shards=list(shard_map.shards),
            schedules=schedule_periods(self.twin.schedules, self.options.schedules),
        )
        self.operations.start()
        self._undo.append(self.operations.stop)

    def _engine(
        self,
        shard: str,
        symbols: list[str],
        broker_url: str | None,
        in_process: InMemoryBroker,
        core: str,
    ) -> EngineTask:
        aws = self.resources  # the engine gets its deployed task's environment, made local
        task = self.twin.engines.get(shard)
        if task is None:
            raise TemplateError(f"the template deploys no engine task for shard {shard}")
        health_port = free_port()
        values = {
            **self._values(),
            "journal_stream": aws.journal_stream,
            "health_port": str(health_port),
        }
        env = twin_env.engine_environment(task, values)
        if env["EXCHANGE_SYMBOLS"].split(",") != symbols:
            raise TemplateError(f"shard {shard} trades {env['EXCHANGE_SYMBOLS']} as deployed")
        if broker_url is None:
            return EngineThread(engine_settings(env), broker=in_process)
        log_path = self.workdir / f"engine-{shard}.log"
        process_env = engine_env(os.environ, env, core)
        return EngineProcess(shard, process_env, log_path=log_path, health_port=health_port)

    def _start_pollers(self) -> None:
        self.pollers = event_sources.stream_pollers(
            self.host,
            self.resources,
            self.twin,
            mapping=self.options.mapping,
            workdir=self.workdir,
            moto=self.moto,
        )
        self._undo.append(self.pollers.stop)
        self.queue_pollers = event_sources.queue_pollers(
            self.host, self.resources, self.twin, self.queues
        )
        self._undo.append(self.queue_pollers.stop)
        self._undo.append(self.outside.start_archive(self.resources, self.moto))

    def _seed(self) -> None:
        aws = self.resources
        self.demo_users = accounts.seed_demo_users(
            client("cognito-idp", aws.endpoint_url),
            accounts.ledger_for(self.pool),
            user_pool_id=aws.user_pool_id,
            app_client_id=aws.app_client_id,
            api_url=self.url,
            kyc_secret=aws.kyc_secret,
            emails=DEMO_EMAILS,
        )

    # -- state -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What clients, the CLI and the tests need to reach this stack (``local.state``)."""
        return stack_state(self)

    def _write_state(self) -> None:
        path = self.options.state_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: a reader waits for the file to exist, then reads it (an empty file,
        # created and not yet written, failed the e2e suite's start once under load).
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(self.state(), indent=2))
        partial.replace(path)
        self._undo.append(lambda: path.unlink(missing_ok=True))

    # -- stop ------------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Undo every step that ran, newest first."""
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.websocket is not None:
            await self.websocket.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        while self._undo:
            step = self._undo.pop()
            started = time.monotonic()
            await asyncio.to_thread(step)
            if time.monotonic() - started > 5:
                print(f"  (stopping {getattr(step, '__qualname__', step)} took long)")
