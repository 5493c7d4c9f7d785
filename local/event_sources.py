"""The stack's event source mappings: the journal's Kinesis pollers (``local.pollers``) and the
SQS queues' pollers (``local.sqs``), each for the hosted functions the template maps, with the
template's settings."""

import functools
from pathlib import Path

from lambdas.catalog import Trigger
from local.aws import REGION, AwsResources, MotoServer, client
from local.functions import FunctionHost
from local.pollers import Invoke, MappingConfig, Pollers
from local.sqs import LocalQueue, QueuePollers
from local.template import Deployment


def _invokers(host: FunctionHost, trigger: Trigger) -> dict[str, Invoke]:
    return {
        name: functools.partial(host.invoke, name)
        for name, spec in host.specs.items()
        if spec.trigger is trigger and host.available(name)
    }


def stream_pollers(
    host: FunctionHost,
    aws: AwsResources,
    deployment: Deployment,
    *,
    mapping: MappingConfig | None,
    workdir: Path,
    moto: MotoServer | None,
) -> Pollers:
    """Every Kinesis consumer on every journal shard (started); ``mapping`` None: as deployed."""
    invokers = _invokers(host, Trigger.KINESIS)
    pollers = Pollers.for_functions(
        client("kinesis", aws.endpoint_url),
        aws.journal_stream,
        invokers,
        config=mapping or MappingConfig.deployed(deployment, list(invokers)),
        failure_log=workdir / "stream-failures.jsonl",
    )
    if moto is not None:
        moto.on_stream_write(pollers.wake.notify)
    pollers.start()
    return pollers


def queue_pollers(
    host: FunctionHost,
    aws: AwsResources,
    deployment: Deployment,
    queues: dict[str, LocalQueue],
) -> QueuePollers:
    """Every SQS mapping of the template whose function is hosted (started)."""
    pollers = QueuePollers.deployed(
        client("sqs", aws.endpoint_url),
        deployment,
        queues,
        _invokers(host, Trigger.SQS),
        region=REGION,
    )
    pollers.start()
    return pollers
