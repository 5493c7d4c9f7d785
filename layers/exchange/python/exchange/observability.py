"""The one Logger, Tracer and Metrics of a process (Powertools).

Import these; never create another. Powertools reads its service name, log level and switches from
the ``POWERTOOLS_*`` variables that the CDK constructs and local mode set. Decorate handlers in
the order logger, then metrics, then tracer.
"""

from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer

# One namespace for the whole product; services are told apart by the `service` dimension.
METRICS_NAMESPACE: Final = "Exchange"

logger: Final = Logger()
tracer: Final = Tracer()
metrics: Final = Metrics(namespace=METRICS_NAMESPACE)

__all__ = ["METRICS_NAMESPACE", "logger", "metrics", "tracer"]
