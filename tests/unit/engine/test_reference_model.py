"""The engine against the naive reference model, on random command streams."""

from hypothesis import HealthCheck, given, settings

from engine_service.core import Engine
from exchange.domain import Command
from tests.unit.engine.helpers import INSTRUMENT, command_streams, without_detail
from tests.unit.engine.reference import ReferenceBook


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=command_streams())
def test_engine_events_equal_the_reference_models_field_for_field(stream: list[Command]) -> None:
    # Given the engine and the reference model, both empty
    engine = Engine([INSTRUMENT])
    reference = ReferenceBook(INSTRUMENT)
    for command in stream:
        # When each command is applied to both
        actual = without_detail(engine.apply(command))
        expected = without_detail(reference.apply(command))
        # Then they emit the same events (rejection detail text aside)
        assert actual == expected, command
