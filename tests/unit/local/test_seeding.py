"""The instruments table is seeded at start as on deploy: the stack runs the migrate function,
which writes version 1 of each static symbol the table lacks. A deployment that gives the migrate
function (or the engines) no instruments table would run on the static file alone, so local mode
refuses to start on it."""

import pytest

from local.cfn import TemplateError
from local.stack import instruments_seeded
from local.template import Deployment


def test_the_migrate_report_says_how_many_symbols_were_seeded() -> None:
    assert instruments_seeded({"applied": [], "instruments_seeded": 3}) == 3
    assert instruments_seeded({"applied": [], "instruments_seeded": 0}) == 0  # a restart


def test_a_migrate_function_without_the_instruments_table_stops_the_stack() -> None:
    with pytest.raises(TemplateError, match="instruments table"):
        instruments_seeded({"applied": [], "instruments_seeded": None})


def test_the_deployment_seeds_the_table_and_the_engines_read_it() -> None:
    deployment = Deployment.load()  # synthesized once, then cached under .cache/local
    assert "EXCHANGE_INSTRUMENTS_TABLE" in deployment.functions["migrate"].environment
    for task in deployment.engines.values():
        assert task.environment["EXCHANGE_READ_INSTRUMENTS_STORE"] == "true", task.shard
        assert "EXCHANGE_INSTRUMENTS_TABLE" in task.environment, task.shard
