"""The scheduled functions in local mode: each EventBridge rule the template deploys runs at its
rate (``rate(value unit)``, "Rate expressions reference", Amazon EventBridge user guide:
minute | minutes | hour | hours | day | days, singular exactly for 1), unless the stack is told to
run it faster (``--schedule FUNCTION=SECONDS``; the e2e tests do); a disabled rule does not run."""

from typing import Any

import pytest

from engine_service.adapters.memory import InMemoryBroker
from local.arguments import parse
from local.cfn import TemplateError
from local.operations import operations_for, schedule_periods
from local.options import LOCAL_SCHEDULES
from local.template_events import DeployedSchedule, rate_seconds, schedules

BY_LOGICAL = {"ReconciliationFn": "reconciliation", "DividendsFn": "dividends"}


def rule(expression: object, target: str, state: str = "ENABLED") -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": expression,
            "State": state,
            "Targets": [{"Arn": {"Fn::GetAtt": [target, "Arn"]}, "Id": "Target0"}],
        },
    }


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(15 minutes)", 900),
        ("rate(1 hour)", 3_600),
        ("rate(2 days)", 172_800),
    ],
)
def test_a_rate_is_its_period_in_seconds(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 * * * ? *)",
    ],
)
def test_what_eventbridge_refuses_or_local_mode_cannot_run_stops_the_stack(expression: str) -> None:
    with pytest.raises(TemplateError):
        rate_seconds(expression)


def test_rules_are_read_per_target_function_and_their_state_kept() -> None:
    resources = {
        "Reconcile": rule("rate(15 minutes)", "ReconciliationFn"),
        "Pay": rule("rate(1 minute)", "DividendsFn", state="DISABLED"),
        "Helper": rule("rate(1 day)", "SomeCdkHelper"),  # not a catalog function
        "Pattern": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {}}},
    }
    assert list(schedules(resources, BY_LOGICAL)) == [
        DeployedSchedule("reconciliation", 900.0, enabled=True),
        DeployedSchedule("dividends", 60.0, enabled=False),
    ]


def test_the_deployed_rates_are_the_default_and_overrides_replace_them() -> None:
    deployed = [
        DeployedSchedule("reconciliation", 900.0, enabled=True),
        DeployedSchedule("dividends", 60.0, enabled=True),
        DeployedSchedule("reconciler", 60.0, enabled=False),  # e.g. the DR region's
    ]
    assert schedule_periods(deployed, {}) == {"reconciliation": 900.0, "dividends": 60.0}
    assert schedule_periods(deployed, {"dividends": 2.0}) == {
        "reconciliation": 900.0,
        "dividends": 2.0,
    }
    # A disabled or missing rule is not run by an override either: it is a mistake
    with pytest.raises(ValueError, match="reconciler"):
        schedule_periods(deployed, {"reconciler": 5.0})
    with pytest.raises(ValueError, match="positive"):
        schedule_periods(deployed, {"dividends": 0.0})


def test_each_scheduled_function_gets_its_own_schedule_in_the_status() -> None:
    invoked: list[tuple[str, str]] = []

    def invoke(name: str, event: dict[str, Any]) -> dict[str, str]:
        invoked.append((name, event["resources"][0].rsplit("/", 1)[1]))
        return {"ran": name}

    operations = operations_for(
        invoke,
        broker_url=None,
        in_process=InMemoryBroker(),
        shards=["s1"],
        schedules={"reconciliation": 900.0, "dividends": 2.0},
    )
    assert operations.schedules["dividends"].tick() == 2.0
    assert operations.schedules["reconciliation"].tick() == 900.0
    assert invoked == [("dividends", "dividends"), ("reconciliation", "reconciliation")]
    status = operations.status()
    assert set(status) == {"reconciliation", "dividends", "dead_letters"}
    assert status["dividends"]["last_result"] == {"ran": "dividends"}


def test_make_run_keeps_the_deployed_rates_but_the_reconcilers_and_relays_and_takes_overrides() -> (
    None
):
    local_rates = {"reconciler": 5.0, "notices_relay": 5.0}
    assert parse([]).schedules == LOCAL_SCHEDULES == local_rates
    options = parse(["--schedule", "dividends=2", "--schedule", "reconciliation=0.5"])
    assert options.schedules == {**local_rates, "dividends": 2.0, "reconciliation": 0.5}
    for bad in ("dividends", "dividends=0", "=3", "dividends=soon"):
        with pytest.raises(SystemExit):
            parse(["--schedule", bad])
