"""The in-process broker of embedded mode, behind the same two interfaces as RabbitMQ: the
publisher side of ``exchange.messaging.CommandPublisher`` (``publish(command)``, routed to the
symbol's shard) and the engine's ``Intake`` port (``engine_service.adapters.memory``).

>>> from exchange.domain import CancelOrder
>>> broker = InMemoryBroker()
>>> publisher = InProcessPublisher(broker, ShardMap({"s1": ["BTC-USD"]}))
>>> publisher.publish(CancelOrder(symbol="BTC-USD", ts=1, command_id="c1", order_id="o1",
...                               account_id="a1"))
>>> broker.depth("s1")
1
"""

from engine_service.adapters.memory import InMemoryBroker
from exchange.domain.commands import Command
from exchange.messaging import ShardMap
from exchange.orders.publisher import CommandSink
from exchange.wire import encode_command

__all__ = ["InMemoryBroker", "InProcessPublisher"]


class InProcessPublisher(CommandSink):
    """The orders function's ``CommandSink`` (and ``CommandPublisher``'s interface) for the
    in-process broker: the same encoding and shard routing.

    ``publish`` returns once the command is queued; a queued command is as safe as the process,
    which is what a confirm means here.
    """

    def __init__(self, broker: InMemoryBroker, shards: ShardMap) -> None:
        self._broker = broker
        self._shards = shards

    def publish(self, command: Command) -> None:
        self._broker.publish(self._shards.shard_of(command.symbol), encode_command(command))
