"""The in-process broker of embedded mode, behind the same two interfaces as RabbitMQ: the
publisher side of ``exchange.messaging.CommandPublisher`` (``publish(command)``, users' and
operators' commands, routed to the symbol's shard: the static map, then, for a symbol listed at
run time, the shard the instruments table gives it) and the engine's ``Intake`` port
(``engine_service.adapters.memory``).

>>> from exchange.domain import CancelOrder
>>> broker = InMemoryBroker()
>>> publisher = InProcessPublisher(broker, ShardMap({"s1": ["BTC-USD"]}))
>>> publisher.publish(CancelOrder(symbol="BTC-USD", ts=1, command_id="c1", order_id="o1",
...                               account_id="a1"))
>>> broker.depth("s1")
1
"""

from collections.abc import Mapping
from typing import Any, Final

from engine_service.adapters.memory import InMemoryBroker
from exchange.domain.commands import EngineCommand
from exchange.messaging import ShardMap
from exchange.orders.publisher import CommandSink
from exchange.wire import encode_command
from lambdas.catalog import Need
from local.functions import FunctionHost

__all__ = ["InMemoryBroker", "InProcessPublisher", "publish_in_process"]

# Each function that needs the broker, and the adapter of its composition root that reaches it:
# the command sink, or (health) the broker check, which has nothing to check in this process.
BROKER_ADAPTERS: Final[Mapping[str, str]] = {
    "orders": "sink",
    "reconciler": "sink",
    "dead_letters": "sink",
    "cancel_after": "sink",
    "admin": "sink",
    "health": "broker",
}


class InProcessPublisher(CommandSink):
    """The orders function's ``CommandSink`` (and ``CommandPublisher``'s interface) for the
    in-process broker: the same encoding and shard routing.

    ``publish`` returns once the command is queued; a queued command is as safe as the process,
    which is what a confirm means here.
    """

    def __init__(self, broker: InMemoryBroker, shards: ShardMap) -> None:
        self._broker = broker
        self._shards = shards

    def publish(self, command: EngineCommand) -> None:
        self._broker.publish(self._shards.shard_of(command.symbol), encode_command(command))


def publish_in_process(host: FunctionHost, publisher: InProcessPublisher) -> None:
    """Without RabbitMQ, every hosted function that publishes commands publishes to the
    in-process broker: its composition root (the one Lambda runs) gets that sink in place of
    RabbitMQ's. A function that needs the broker and is not in ``BROKER_ADAPTERS`` stops the
    stack rather than reach for a RabbitMQ that is not there."""
    for name, spec in host.specs.items():
        if Need.BROKER not in spec.needs or not host.available(name):
            continue
        adapter = BROKER_ADAPTERS.get(name)
        if adapter is None:
            raise LookupError(f"{name} needs the broker; say which adapter reaches it")
        value: Any = publisher if adapter == "sink" else (lambda: None)
        host.root(name).override(**{adapter: value})
