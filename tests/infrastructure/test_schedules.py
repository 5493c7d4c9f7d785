"""The scheduled functions (EventBridge rules from the catalog's ``every_minutes``): the
reconciler, the dividends and the notices' relay every minute, the payout sweeper every 5 minutes,
the reconciliation every 15 minutes; enabled in the primary, created disabled in the DR region,
which the failover runbook enables."""

import pytest

from lambdas.catalog import FUNCTIONS, Trigger
from stacks.constructs.monitoring.watch import failed_runs_to_page
from tests.infrastructure.conftest import MAIN_STACKS, PRIMARY, Resources, of_type
from tests.infrastructure.test_functions import function_id
from tests.infrastructure.test_operator_controls import alarms_by_metric, statistic_of, topic_of

SCHEDULED = [spec for spec in FUNCTIONS.values() if spec.trigger is Trigger.SCHEDULE]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_schedule_runs_in_the_primary_and_waits_for_failover_in_dr(
    resources: dict[str, Resources], stack: str
) -> None:
    """An EventBridge rule per scheduled function, at its catalog rate ("Creating an Amazon
    EventBridge rule that runs on a schedule": rate(1 minute), rate(15 minutes), the unit
    singular for 1). In DR every rule is DISABLED: the ledger there is the read-only Aurora
    secondary until promotion, so a run would fail its writes, and two regions must never both
    cancel orders or pay a dividend; the failover runbook enables them."""
    rules = of_type(resources[stack], "AWS::Events::Rule")
    assert len(rules) == len(SCHEDULED)
    by_target = {
        rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: (rule_id, rule["Properties"])
        for rule_id, rule in rules.items()
    }
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in of_type(resources[stack], "AWS::Lambda::EventInvokeConfig").values()
    }
    permissions = [
        p["Properties"]
        for p in of_type(resources[stack], "AWS::Lambda::Permission").values()
        if p["Properties"].get("Principal") == "events.amazonaws.com"
    ]
    for spec in SCHEDULED:
        target = function_id(resources[stack], spec)
        rule_id, props = by_target[target]
        minutes = spec.every_minutes
        assert minutes is not None
        unit = "minute" if minutes == 1 else "minutes"
        assert props["ScheduleExpression"] == f"rate({minutes} {unit})", spec.name
        assert props["State"] == ("ENABLED" if stack == PRIMARY else "DISABLED"), spec.name
        ((rule_target),) = props["Targets"]
        assert rule_target["Arn"] == {"Fn::GetAtt": [target, "Arn"]}
        # The next run is the retry: no retry of a failed run, which would overlap it
        assert rule_target["RetryPolicy"]["MaximumRetryAttempts"] == 0
        assert configs[target]["MaximumRetryAttempts"] == 0
        assert configs[target]["MaximumEventAgeInSeconds"] == minutes * 60
        assert spec.reserved_concurrency == 1, "one run at a time"
        (permission,) = [
            p for p in permissions if p["FunctionName"] == {"Fn::GetAtt": [target, "Arn"]}
        ]
        assert permission["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


def test_the_schedules_are_the_issues_rates() -> None:
    # Reconciliation every 15 minutes, dividends every minute, the reconciler every minute; stuck
    # payouts swept every 5 minutes, the ledger's notices relayed every minute.
    assert {spec.name: spec.every_minutes for spec in SCHEDULED} == {
        "reconciler": 1,
        "reconciliation": 15,
        "dividends": 1,
        "payout_sweeper": 5,
        "notices_relay": 1,
    }


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_a_scheduled_function_whose_runs_keep_failing_pages(
    resources: dict[str, Resources], stack: str
) -> None:
    """Its own Errors, one evaluation period per run (Lambda's ``Errors``: "the number of
    invocations that result in a function error", AWS/Lambda, dimension FunctionName), above 0 in
    every period of at least 5 minutes and two runs: the function-wide Errors alarm (more than 5
    in 5 minutes) can never fire for a function run at most once a minute, and a reconciliation
    or a dividends run that fails emits none of the metrics its other alarms read. No run (DR,
    rules disabled) is no data: not a breach."""
    topic = topic_of(resources, stack)
    alarms = alarms_by_metric(resources, stack)
    for spec in SCHEDULED:
        minutes = spec.every_minutes
        assert minutes is not None
        dimensions = (("FunctionName", f"<{function_id(resources[stack], spec)}>"),)
        failing = [
            props
            for (namespace, metric, dims), props in alarms.items()
            if (namespace, metric, dims) == ("AWS/Lambda", "Errors", dimensions)
            and statistic_of(props) == ("Sum", minutes * 60)
        ]
        assert len(failing) == 1, spec.name
        (props,) = failing
        runs = failed_runs_to_page(minutes)
        assert runs >= 2
        assert runs * minutes >= 5
        assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == runs, spec.name
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"] == props["OKActions"] == [topic]
