"""The DR runbooks' control function (``lambdas.dr_control``): what each action does in the
target region (moto for ECS and EventBridge), with clients that name that region explicitly
(Step Functions' SDK integrations cannot leave the state machine's region), and the health probe's
answers: 200 healthy, any other status or no answer unhealthy, never an error."""

import io
import json
import urllib.error
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import dr_control
from lambdas.dr_control import handler as control_module
from lambdas.dr_control.handler import Control, Target, handler

PRIMARY_REGION = "us-east-1"
HEALTH = "https://abc.execute-api.us-east-1.amazonaws.com/live/v1/health"
RULES = ("exchange-reconciler-rule", "exchange-dividends-rule")


@pytest.fixture
def primary(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The primary region in moto: an engine cluster with one running service, two schedules;
    the function's environment naming them, and the caller's default region elsewhere."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setattr(control_module, "_CONTROL", None)  # read from this test's environment
    with mock_aws():
        ecs = boto3.client("ecs", region_name=PRIMARY_REGION)
        cluster = ecs.create_cluster(clusterName="engine")["cluster"]["clusterArn"]
        ecs.register_task_definition(
            family="engine-s1", containerDefinitions=[{"name": "e", "image": "x", "memory": 128}]
        )
        service = ecs.create_service(
            cluster=cluster, serviceName="engine-s1", taskDefinition="engine-s1", desiredCount=1
        )["service"]["serviceArn"]
        events = boto3.client("events", region_name=PRIMARY_REGION)
        for rule in RULES:
            events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)", State="ENABLED")
        targets = {
            dr_control.PRIMARY: {
                "region": PRIMARY_REGION,
                "cluster": cluster,
                "services": [service],
                "rules": list(RULES),
                "health_url": HEALTH,
            },
            dr_control.DR: {
                "region": "us-west-2",
                "health_url": HEALTH.replace("east-1", "west-2"),
            },
        }
        monkeypatch.setenv(dr_control.TARGETS_ENV, json.dumps(targets))
        yield {"ecs": ecs, "events": events, "cluster": cluster, "service": service}


def test_scaling_the_primarys_engines_updates_each_service_in_the_primary_region(
    primary: dict[str, Any],
) -> None:
    # When the failover's fence step stops the primary's engines
    answer = handler(
        {"action": dr_control.SCALE_ENGINES, "target": dr_control.PRIMARY, "count": 0}, None
    )
    # Then every engine service of us-east-1 wants no task (the default region is us-west-2)
    assert answer == {"region": PRIMARY_REGION, "services": [primary["service"]], "desired": 0}
    (service,) = primary["ecs"].describe_services(
        cluster=primary["cluster"], services=[primary["service"]]
    )["services"]
    assert service["desiredCount"] == 0
    # And the check says so once nothing runs or is pending
    settled = handler(
        {"action": dr_control.ENGINES_SETTLED, "target": dr_control.PRIMARY, "count": 0}, None
    )
    assert settled["settled"] is True
    assert settled["services"] == [
        {"service": "engine-s1", "desired": 0, "running": 0, "pending": 0}
    ]


def test_engines_are_not_settled_until_each_runs_the_count(primary: dict[str, Any]) -> None:
    # Given the service wants one task, of which none runs yet (moto starts none)
    settled = handler(
        {"action": dr_control.ENGINES_SETTLED, "target": dr_control.PRIMARY, "count": 1}, None
    )
    assert settled["settled"] is False
    assert settled["services"][0]["running"] == 0


@pytest.mark.parametrize("enabled", [False, True])
def test_the_primarys_schedules_are_disabled_and_enabled_by_name(
    primary: dict[str, Any], enabled: bool
) -> None:
    answer = handler(
        {"action": dr_control.SET_SCHEDULES, "target": dr_control.PRIMARY, "enabled": enabled},
        None,
    )
    assert answer == {"region": PRIMARY_REGION, "rules": list(RULES), "enabled": enabled}
    for rule in RULES:
        state = primary["events"].describe_rule(Name=rule)["State"]
        assert state == ("ENABLED" if enabled else "DISABLED")


def test_every_client_names_the_targets_region_explicitly() -> None:
    # Given a control whose client factory records what it is asked for
    asked: list[tuple[str, str]] = []

    class Fake:
        def update_service(self, **kwargs: Any) -> None:
            return None

        def disable_rule(self, **kwargs: Any) -> None:
            return None

    def client(service: str, region: str) -> Fake:
        asked.append((service, region))
        return Fake()

    target = Target(region=PRIMARY_REGION, cluster="c", services=("s",), rules=("r",))
    control = Control({dr_control.PRIMARY: target}, client=client)
    # When it scales and disables in the primary
    control.handle({"action": dr_control.SCALE_ENGINES, "target": "primary", "count": 0})
    control.handle({"action": dr_control.SET_SCHEDULES, "target": "primary", "enabled": False})
    # Then each client is the primary region's
    assert asked == [("ecs", PRIMARY_REGION), ("events", PRIMARY_REGION)]


class Answer(io.BytesIO):
    status = 200


def opener(outcome: object) -> Any:
    def open_url(request: Any, timeout: float) -> Any:
        assert request.full_url == HEALTH
        assert timeout == 10
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return open_url


@pytest.mark.parametrize(
    ("outcome", "healthy", "status", "detail"),
    [
        (Answer(b'{"status":"ok"}'), True, 200, '{"status":"ok"}'),
        (
            urllib.error.HTTPError(HEALTH, 503, "down", {}, io.BytesIO(b'{"ledger":"down"}')),  # type: ignore[arg-type]
            False,
            503,
            '{"ledger":"down"}',
        ),
        (urllib.error.URLError("timed out"), False, 0, "<urlopen error timed out>"),
    ],
)
def test_a_health_probe_answers_healthy_only_on_200_and_never_raises(
    outcome: object, healthy: bool, status: int, detail: str
) -> None:
    control = Control(
        {"primary": Target(region=PRIMARY_REGION, health_url=HEALTH)}, open_url=opener(outcome)
    )
    answer = control.handle({"action": dr_control.PROBE_HEALTH, "target": "primary"})
    assert answer == {
        "region": PRIMARY_REGION,
        "healthy": healthy,
        "status": status,
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "drop_tables", "target": "primary"}, "unknown action"),
        ({"action": dr_control.SCALE_ENGINES, "target": "elsewhere", "count": 0}, "unknown target"),
        ({"action": dr_control.SCALE_ENGINES, "target": "primary", "count": -1}, "count"),
        ({"action": dr_control.SCALE_ENGINES, "target": "primary", "count": True}, "count"),
        ({"action": dr_control.SET_SCHEDULES, "target": "primary", "enabled": "no"}, "boolean"),
        ({"action": dr_control.SCALE_ENGINES, "target": "dr", "count": 1}, "no engine services"),
        ({"action": dr_control.SET_SCHEDULES, "target": "dr", "enabled": True}, "no schedules"),
        ({"action": dr_control.PROBE_HEALTH, "target": "plain"}, "no HTTPS health URL"),
    ],
)
def test_a_malformed_event_is_an_error_the_state_machine_sees(
    event: dict[str, Any], message: str
) -> None:
    control = Control(
        {
            "primary": Target(region=PRIMARY_REGION, cluster="c", services=("s",), rules=("r",)),
            "dr": Target(region="us-west-2", health_url=HEALTH),
            "plain": Target(region="us-west-2", health_url="http://example.com/v1/health"),
        },
        client=lambda service, region: pytest.fail("no AWS call for a malformed event"),
    )
    with pytest.raises(ValueError, match=message):
        control.handle(event)
