"""Kinesis Data Firehose's data transformation on the journal's delivery stream: each journal
record in becomes one record of flat JSON rows out, with its ``symbol`` and ``date`` partition
keys (``exchange.archive.transform``). Firehose then converts the rows to Parquet and writes them
to ``events/symbol=<S>/date=<D>/`` in the archive bucket.

The function holds no state and calls nothing: a record that does not decode is answered
``ProcessingFailed`` (Firehose writes it under the error prefix) and counted, the rest go on.
It imports no pyarrow: Firehose, not the function, writes the Parquet.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from exchange.archive.transform import results, transform
from exchange.composition import CompositionRoot
from exchange.observability import logger, metrics, tracer
from exchange.settings import ArchiveTransformSettings

type Transform = Callable[[Mapping[str, Any]], dict[str, list[dict[str, Any]]]]


def compose(settings: ArchiveTransformSettings) -> Transform:
    """The function's object graph: the pure transform (the settings configure only logging)."""
    del settings
    return transform


ROOT = CompositionRoot(ArchiveTransformSettings, compose)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, Any]]]:
    answer = ROOT()(event)
    counts = Counter(results(answer))
    metrics.add_metric(name="ArchiveRecords", unit=MetricUnit.Count, value=counts["Ok"])
    metrics.add_metric(
        name="ArchiveRecordsFailed", unit=MetricUnit.Count, value=counts["ProcessingFailed"]
    )
    return answer
