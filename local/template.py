"""What the CDK app deploys, read from its synthesized template: the local stack's source of truth.

Local mode does not restate the deployment. It synthesizes the primary region's main stack (asset
bundling off, as the tests do), with the resources of its nested stacks (the REST API's, ...:
``stacks.assembly.inlined_resources``), and reads from it what API Gateway, Lambda and Cognito
will do:

- each function's environment variables, timeout and reserved concurrency;
- each REST method: its path, the function behind it, its authorization type and OAuth scopes, and
  its authorizer (a Lambda REQUEST authorizer's function, identity sources and cache TTL); each
  MOCK method's answer (the CORS preflights), and the gateway's customized responses
  (``local.template_api``);
- each WebSocket route, and the ``$connect`` authorizer's identity sources;
- each Kinesis event source mapping's batch size, retries, bisection and starting position;
- each SQS queue, its event source mapping, and the KMS keys (``local.template_queues``);
- each SNS topic and its SQS subscriptions, the SES sender identities and configuration sets
  (``local.template_topics``);
- each scheduled function's EventBridge rule: its rate, and whether it is enabled
  (``local.template_events``);
- which function is the user pool's post-confirmation trigger;
- each engine shard's task environment.

Synthesis takes ~20 s, so the template is cached under ``.cache/local/``, keyed by a hash of
everything the CDK app imports (``stacks/``, ``lambdas/*.py``, the shared layer, ``cdk.json``).
It runs in a child process: jsii's Node runtime stays out of the stack's process.

``python -m local.template`` prints where the cached template is (synthesizing it if needed).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from lambdas.catalog import FUNCTIONS
from local import template_api, template_events, template_queues, template_topics
from local.cfn import Resources, TemplateError, of_type, referenced_function
from local.template_api import (
    DeployedGatewayResponse,
    DeployedMethod,
    DeployedMock,
    DeployedWebSocket,
)
from local.template_events import DeployedSchedule
from local.template_queues import DeployedKey, DeployedQueue, DeployedQueueMapping
from local.template_topics import DeployedEmail, DeployedSubscription, DeployedTopic

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CACHE_DIR: Final = REPO_ROOT / ".cache" / "local"
# The stack whose template local mode mirrors: the primary region's main stack.
STACK_SUFFIX: Final = "-primary"
_HASHED: Final = (
    "stacks",
    "lambdas",
    "layers/exchange/python/exchange",
)


def _sources() -> Iterator[Path]:
    yield REPO_ROOT / "cdk.json"
    for folder in _HASHED:
        root = REPO_ROOT / folder
        # lambdas/: the catalog and environment only; handlers do not shape the template.
        pattern = "*.py" if folder == "lambdas" else "**/*.py"
        yield from sorted(root.glob(pattern))
    yield from sorted((REPO_ROOT / "layers/exchange/python/exchange").glob("**/*.json"))


def source_hash() -> str:
    digest = hashlib.sha256()
    for path in _sources():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _synthesize(out: Path) -> None:
    """Synthesize the app in this process and write the primary main stack's template."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk import Stack  # noqa: PLC0415 - only the child process loads jsii

    from stacks.assembly import inlined_resources  # noqa: PLC0415
    from stacks.composition import build_app  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="local-synth-") as outdir:
        # Asset metadata names each nested stack's template file (``inlined_resources`` reads it).
        context = {"aws:cdk:bundling-stacks": [], "aws:cdk:enable-asset-metadata": True}
        app = build_app(context=context, outdir=outdir, nag=False)
        assembly = app.synth()
        names = [s.node.id for s in app.node.children if isinstance(s, Stack)]
        primary = next((n for n in names if n.endswith(STACK_SUFFIX)), None)
        if primary is None:
            raise TemplateError(f"no stack ending in {STACK_SUFFIX!r} among {names}")
        parent = assembly.get_stack_by_name(primary).template
        # The REST API (and other groups) live in nested stacks: read as one set of resources.
        template = {**parent, "Resources": inlined_resources(parent, Path(assembly.directory))}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(template))
    tmp.replace(out)  # atomic: a concurrent reader sees the old file or the whole new one


def template_path(*, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached template for the current sources, synthesized first when missing."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"template-{source_hash()}.json"
    if path.is_file():
        return path
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.template", "--synthesize", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0 or not path.is_file():
        raise TemplateError(f"cdk synth failed:\n{result.stderr[-4000:]}")
    for stale in cache_dir.glob("template-*.json"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def load_template(*, cache_dir: Path = CACHE_DIR) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(template_path(cache_dir=cache_dir).read_text())
    return template


# -- the deployment, read --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeployedFunction:
    name: str  # the catalog's name
    logical_id: str
    environment: Mapping[str, Any]  # variable -> a string, or an intrinsic (dict)
    timeout_seconds: int
    reserved_concurrency: int | None


@dataclass(frozen=True, slots=True)
class DeployedMapping:
    function: str
    batch_size: int
    max_retry_attempts: int
    bisect_on_error: bool
    report_item_failures: bool
    starting_position: str
    parallelization_factor: int


@dataclass(frozen=True, slots=True)
class DeployedTask:
    """An engine shard's ECS task: its container's environment (secrets are ARNs in it)."""

    shard: str
    environment: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Deployment:
    functions: Mapping[str, DeployedFunction]
    methods: tuple[DeployedMethod, ...]
    websocket: DeployedWebSocket
    mappings: tuple[DeployedMapping, ...]
    cognito_triggers: Mapping[str, str] = field(default_factory=dict)  # trigger -> function
    engines: Mapping[str, DeployedTask] = field(default_factory=dict)  # shard -> task
    # response type -> the REST API's customized gateway response
    gateway_responses: Mapping[str, DeployedGatewayResponse] = field(default_factory=dict)
    queues: Mapping[str, DeployedQueue] = field(default_factory=dict)  # logical id -> queue
    queue_mappings: tuple[DeployedQueueMapping, ...] = ()
    keys: Mapping[str, DeployedKey] = field(default_factory=dict)  # logical id -> KMS key
    schedules: tuple[DeployedSchedule, ...] = ()  # the EventBridge rules that invoke functions
    topics: Mapping[str, DeployedTopic] = field(default_factory=dict)  # logical id -> topic
    subscriptions: tuple[DeployedSubscription, ...] = ()  # SNS -> SQS
    email: DeployedEmail = field(default_factory=DeployedEmail)  # SES
    mocks: tuple[DeployedMock, ...] = ()  # the REST methods API Gateway answers (CORS preflights)

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> "Deployment":
        resources: Resources = template["Resources"]
        functions = _functions(resources)
        by_logical = {f.logical_id: f.name for f in functions.values()}
        return cls(
            functions=functions,
            methods=tuple(template_api.methods(resources, by_logical)),
            websocket=template_api.websocket(resources, by_logical),
            mappings=tuple(_mappings(resources, by_logical)),
            cognito_triggers=_cognito_triggers(resources, by_logical),
            engines=_engines(resources),
            gateway_responses=template_api.gateway_responses(resources),
            queues=template_queues.queues(resources),
            queue_mappings=tuple(template_queues.queue_mappings(resources, by_logical)),
            keys=template_queues.keys(resources),
            schedules=tuple(template_events.schedules(resources, by_logical)),
            topics=template_topics.topics(resources),
            subscriptions=template_topics.subscriptions(resources),
            email=template_topics.email(resources),
            mocks=tuple(template_api.mocks(resources)),
        )

    @classmethod
    def load(cls) -> "Deployment":
        return cls.from_template(load_template())

    def mapping_of(self, function: str) -> DeployedMapping:
        found = [m for m in self.mappings if m.function == function]
        if len(found) != 1:
            raise TemplateError(f"{function} has {len(found)} Kinesis mappings, expected 1")
        return found[0]

    def queue_mapping_of(self, function: str) -> DeployedQueueMapping:
        found = [m for m in self.queue_mappings if m.function == function]
        if len(found) != 1:
            raise TemplateError(f"{function} has {len(found)} SQS mappings, expected 1")
        return found[0]


def _catalog_name(function_name: object) -> str | None:
    """``exchange-<env>-<name>`` -> ``<name>`` when ``<name>`` is a catalog function."""
    if not isinstance(function_name, str):
        return None
    for name in FUNCTIONS:
        if function_name.endswith(f"-{name}"):
            return name
    return None


def _functions(resources: Resources) -> dict[str, DeployedFunction]:
    found: dict[str, DeployedFunction] = {}
    for logical, props in of_type(resources, "AWS::Lambda::Function"):
        name = _catalog_name(props.get("FunctionName"))
        if name is None:
            continue  # CDK's own helpers (log retention, custom resources)
        found[name] = DeployedFunction(
            name=name,
            logical_id=logical,
            environment=dict(props.get("Environment", {}).get("Variables", {})),
            timeout_seconds=int(props.get("Timeout", 3)),
            reserved_concurrency=props.get("ReservedConcurrentExecutions"),
        )
    missing = set(FUNCTIONS) - set(found)
    if missing:
        raise TemplateError(f"the template has no function for {sorted(missing)}")
    return found


def _mappings(resources: Resources, by_logical: Mapping[str, str]) -> Iterator[DeployedMapping]:
    for _logical, props in of_type(resources, "AWS::Lambda::EventSourceMapping"):
        if "StartingPosition" not in props:
            continue  # Amazon MQ and SQS mappings: no stream position
        function = referenced_function(props.get("FunctionName"), by_logical)
        if function is None:
            continue
        yield DeployedMapping(
            function=function,
            batch_size=int(props.get("BatchSize", 100)),
            max_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
            report_item_failures="ReportBatchItemFailures"
            in props.get("FunctionResponseTypes", ()),
            starting_position=str(props["StartingPosition"]),
            parallelization_factor=int(props.get("ParallelizationFactor", 1)),
        )


def _cognito_triggers(resources: Resources, by_logical: Mapping[str, str]) -> dict[str, str]:
    triggers: dict[str, str] = {}
    for _logical, props in of_type(resources, "AWS::Cognito::UserPool"):
        for trigger, value in (props.get("LambdaConfig") or {}).items():
            function = referenced_function(value, by_logical)
            if function is not None:
                triggers[trigger] = function
    return triggers


ENGINE_CONTAINER: Final = "engine"


def _engines(resources: Resources) -> dict[str, DeployedTask]:
    tasks: dict[str, DeployedTask] = {}
    for _logical, props in of_type(resources, "AWS::ECS::TaskDefinition"):
        for container in props.get("ContainerDefinitions", ()):
            if container.get("Name") != ENGINE_CONTAINER:
                continue
            environment = {e["Name"]: e["Value"] for e in container.get("Environment", ())}
            shard = environment.get("EXCHANGE_SHARD_ID")
            if not isinstance(shard, str):
                raise TemplateError("an engine task without a literal EXCHANGE_SHARD_ID")
            tasks[shard] = DeployedTask(shard, environment)
    return tasks


def main(argv: list[str]) -> int:
    if argv[:1] == ["--synthesize"] and len(argv) == 2:
        _synthesize(Path(argv[1]))
        return 0
    print(template_path())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
