"""The failover's wiring outside the state machines: every engine task is fenced and can promote
(``engine_service.fence``, ``engine_service.adapters.dynamo``), and the primary's settlement
settles behind the replication gate, reading the events table's DR replica
(``exchange.journal.gate``)."""

import pytest

from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY, Resources, flatten, of_type


def _engine_task(resources: Resources) -> tuple[dict[str, str], list[dict[str, object]]]:
    (task,) = of_type(resources, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in of_type(resources, "AWS::IAM::Policy").values()
        if any(r.get("Ref") == role for r in policy["Properties"]["Roles"])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return env, statements


def _actions(statement: dict[str, object]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)  # type: ignore[call-overload]


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_engine_task_is_fenced_and_may_promote(
    resources: dict[str, Resources], stack: str
) -> None:
    env, statements = _engine_task(resources[stack])
    assert env["EXCHANGE_FENCE"] == "true"
    assert env["EXCHANGE_PRIMARY_REGION"] == "us-east-1"
    for name in ("FAILOVER", "EVENTS", "CURSORS", "AUDIT"):
        assert env[f"EXCHANGE_{name}_TABLE"].endswith(name.lower())
    granted = {(action, flatten(s["Resource"])) for s in statements for action in _actions(s)}
    table = "table/{}".format

    def has(action: str, name: str) -> bool:
        return any(a == action and table(env[name]) in r for a, r in granted)

    assert has("dynamodb:GetItem", "EXCHANGE_FAILOVER_TABLE")  # the fence
    assert has("dynamodb:Query", "EXCHANGE_EVENTS_TABLE")  # promotion's replicated journal
    assert has("dynamodb:Scan", "EXCHANGE_CURSORS_TABLE")  # the rewind
    assert has("dynamodb:UpdateItem", "EXCHANGE_CURSORS_TABLE")
    assert has("dynamodb:DeleteItem", "EXCHANGE_AUDIT_TABLE")  # superseded entries set aside
    assert has("dynamodb:DeleteItem", "EXCHANGE_EVENTS_TABLE")
    # And nothing broader: no write to the fence (the state machine alone moves it)
    assert not any(
        a in {"dynamodb:PutItem", "dynamodb:UpdateItem"}
        and table(env["EXCHANGE_FAILOVER_TABLE"]) in r
        for a, r in granted
    )


def _settlement(resources: Resources) -> tuple[dict[str, str], str]:
    functions = [
        f for f in of_type(resources, "AWS::Lambda::Function").values()
        if f["Properties"].get("Environment", {}).get("Variables", {}).get(
            "POWERTOOLS_SERVICE_NAME") == "settlement"
    ]  # fmt: skip
    (function,) = functions
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = [
        p for p in of_type(resources, "AWS::IAM::Policy").values()
        if any(r.get("Ref") == role for r in p["Properties"]["Roles"])
    ]  # fmt: skip
    return function["Properties"]["Environment"]["Variables"], flatten(policies)


def test_the_primary_settles_behind_the_replication_gate(resources: dict[str, Resources]) -> None:
    env, policies = _settlement(resources[PRIMARY])
    assert env["EXCHANGE_SETTLE_AFTER_REPLICA_REGION"] == "us-west-2"
    assert env["EXCHANGE_EVENTS_TABLE"].endswith("events")
    # Query on the replica in us-west-2, and Decrypt only through DynamoDB there
    assert "dynamodb:us-west-2:" in policies
    assert f"table/{env['EXCHANGE_EVENTS_TABLE']}" in policies
    assert "dynamodb.us-west-2.amazonaws.com" in policies


def test_dr_settles_without_a_gate(resources: dict[str, Resources]) -> None:
    env, policies = _settlement(resources[DR])
    assert "EXCHANGE_SETTLE_AFTER_REPLICA_REGION" not in env
    assert "dynamodb.us-east-1.amazonaws.com" not in policies
