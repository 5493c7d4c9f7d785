"""The in-process broker of embedded mode: every function that publishes to the engine (the
admin API's operator commands too) publishes to it, and a symbol listed at run time reaches the
shard the instruments table gives it, as through RabbitMQ."""

from engine_service.adapters.memory import InMemoryBroker
from exchange.domain import InstrumentStatus, SetTradingStatus
from exchange.messaging import ShardMap
from exchange.wire import decode_command
from lambdas.catalog import FUNCTIONS, Need
from local.broker import BROKER_ADAPTERS, InProcessPublisher


def test_every_function_that_publishes_has_its_adapter_named() -> None:
    publishing = {name for name, spec in FUNCTIONS.items() if Need.BROKER in spec.needs}
    assert publishing == set(BROKER_ADAPTERS)
    assert BROKER_ADAPTERS["admin"] == "sink"


def test_an_operator_command_for_a_symbol_listed_at_run_time_reaches_its_shard() -> None:
    broker = InMemoryBroker()
    listed = {"ACME-USD": "s2"}.get  # what the live catalog's shard_for answers
    publisher = InProcessPublisher(broker, ShardMap({"s1": ["BTC-USD"]}, fallback=listed))
    command = SetTradingStatus(
        symbol="ACME-USD", ts=1, command_id="adm_1", status=InstrumentStatus.HALTED, actor="olga"
    )
    publisher.publish(command)
    assert (broker.depth("s1"), broker.depth("s2")) == (0, 1)
    intake = broker.intake("s2")
    intake.connect()
    (delivery,) = intake.poll(1, timeout_s=0)
    assert decode_command(delivery.body) == command
