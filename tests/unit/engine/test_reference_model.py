"""The engine against the naive reference model, on random command streams."""

import pytest
from hypothesis import HealthCheck, given, settings

from engine_service.core import Engine
from exchange.domain import Command, Instrument
from tests.unit.engine.helpers import (
    BANDED,
    INSTRUMENT,
    command_streams,
    trading_streams,
    without_detail,
)
from tests.unit.engine.reference import ReferenceBook

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INSTRUMENTS = pytest.mark.parametrize("instrument", [INSTRUMENT, BANDED], ids=["plain", "banded"])


def assert_same_events(instrument: Instrument, stream: list[Command]) -> None:
    # Given the engine and the reference model, both empty
    engine = Engine([instrument])
    reference = ReferenceBook(instrument)
    for command in stream:
        # When each command is applied to both
        actual = without_detail(engine.apply(command))
        expected = without_detail(reference.apply(command))
        # Then they emit the same events (rejection detail text aside)
        assert actual == expected, command


@INSTRUMENTS
@SETTINGS
@given(stream=command_streams())
def test_engine_events_equal_the_reference_models_field_for_field(
    instrument: Instrument, stream: list[Command]
) -> None:
    assert_same_events(instrument, stream)


@INSTRUMENTS
@SETTINGS
@given(stream=trading_streams())
def test_engine_equals_the_reference_on_streams_that_trade_protect_and_move_the_band(
    instrument: Instrument, stream: list[Command]
) -> None:
    assert_same_events(instrument, stream)
