"""Failover as one command: the DR stack's failover and failback state machines, their roles, the
control function that reaches the primary region, the alarm on failed executions, and the Route
53 records and health checks the DNS step flips (``stacks.constructs.failover``, ``dns``).

AWS pages pinned here (found with the documentation search):

- "Accessing resources in other AWS accounts in Step Functions": cross-Region AWS SDK integration
  isn't available, so the state machines (in us-west-2) reach us-east-1 through a Lambda function
  whose boto3 clients name the region (``lambdas.dr_control``); everything in us-west-2 is an SDK
  or optimized integration.
- "Learning to use AWS service SDK integrations in Step Functions": ``arn:aws:states:::aws-sdk:
  <service>:<apiAction>`` (EventBridge's service is ``eventbridge``), parameters in PascalCase,
  errors ``<Service>.<Error>``.
- "Call DynamoDB with Step Functions": ``arn:aws:states:::dynamodb:updateItem``, its errors
  ``DynamoDB.<Exception>``; "Condition expressions" and "Update expressions" (DynamoDB
  Developer Guide): ``attribute_not_exists``, ``if_not_exists(epoch, :zero) + :one``.
- "Handling errors in Step Functions workflows": retriers are matched in order, ``States.ALL``
  last; ``MaxAttempts`` 0 never retries; a Catch hands ``{"Error", "Cause"}`` to its next state.
- "FailoverGlobalCluster" (Amazon RDS API Reference): ``AllowDataLoss`` makes it a failover (for
  an outage; without it, a switchover), ``TargetDbClusterIdentifier`` the secondary's ARN;
  "SwitchoverGlobalCluster" (planned, no data loss); "DescribeGlobalClusters"
  (``GlobalClusterMembers[].IsWriter``, ``Status``).
- "UpdateService" / "DescribeServices" (Amazon ECS API Reference): ``desiredCount``,
  ``runningCount``, ``pendingCount``; "EnableRule" / "DisableRule" (Amazon EventBridge API
  Reference), by rule name.
- "UpdateHealthCheck" (Amazon Route 53 API Reference): ``Inverted``; "HealthCheckConfig",
  ``HealthThreshold``: for a CALCULATED check, 0 is always healthy, and the number of children
  that must be healthy otherwise; "How Amazon Route 53 determines whether a health check is
  healthy" (an HTTPS check: 2xx/3xx healthy).
- "Monitoring Step Functions metrics using Amazon CloudWatch": ``ExecutionsFailed`` and
  ``ExecutionsTimedOut``, namespace AWS/States, dimension ``StateMachineArn``.
- "Avoiding Amazon CloudWatch Logs resource policy size restrictions" (Step Functions): log
  groups named ``/aws/vendedlogs/states/...``.
"""

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from exchange.messaging import ShardMap
from lambdas import dr_control
from lambdas.catalog import FUNCTIONS, Trigger
from stacks import constants
from stacks.composition import build_app
from stacks.constructs.failover.definitions import ACTIVE_ENGINES
from stacks.constructs.failover.runbooks import AURORA_CHECKS, ENGINES_STOP_CHECKS, HEALTH_CHECKS
from stacks.constructs.grants import KEY_WRITE_ACTIONS
from tests.infrastructure.conftest import (
    DR,
    NO_BUNDLING,
    PRIMARY,
    REST,
    Resources,
    nested,
    of_type,
    watched,
)
from tests.infrastructure.test_functions import as_list

SHARDS = sorted(ShardMap.demo().shards)
SCHEDULED = sorted(s.name for s in FUNCTIONS.values() if s.trigger is Trigger.SCHEDULE)
FAILOVER_STEPS = [
    "FencePrimary",
    "PromoteAurora",
    "StartDrEngines",
    "SwitchDns",
    "EnableDrSchedules",
    "VerifyHealth",
]
FAILBACK_STEPS = [
    "FenceDr",
    "SwitchoverAurora",
    "StartPrimaryEngines",
    "SwitchDnsBack",
    "EnablePrimarySchedules",
    "RestoreDrStandby",
    "VerifyHealth",
]
ZONE = {"exchange:hostedZoneId": "Z0123456789ABC", "exchange:hostedZoneName": "example.com"}
LAMBDA = "arn:<AWS::Partition>:states:::lambda:invoke"
SDK = "arn:<AWS::Partition>:states:::aws-sdk:"
# What the roles may do on "*": Step Functions' log delivery and X-Ray, nothing else.
UNSCOPED = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}


def render(value: object) -> str:
    """An intrinsic-laden value as one string: references ``<Name>``/``<Name.Attr>``, another
    stack's output ``<@Stack.Output>`` (``Fn::GetStackOutput``: the weak cross-region
    reference)."""
    match value:
        case str():
            return value
        case {"Fn::Join": [str(separator), list(parts)]}:
            return separator.join(render(part) for part in parts)
        case {"Ref": str(name)}:
            return f"<{name}>"
        case {"Fn::GetAtt": [str(name), str(attribute)]}:
            return f"<{name}.{attribute}>"
        case {"Fn::GetStackOutput": {"StackName": str(stack), "OutputName": str(output)}}:
            return f"<@{stack}.{output}>"
    raise AssertionError(f"cannot render {value!r}")


def machines(resources: Resources) -> dict[str, dict[str, Any]]:
    """State machine name -> its properties."""
    return {
        r["Properties"]["StateMachineName"]: r["Properties"]
        for r in of_type(resources, "AWS::StepFunctions::StateMachine").values()
    }


def definition(resources: Resources, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(render(machines(resources)[name]["DefinitionString"]))
    return found


def walk(defn: Mapping[str, Any], branches: Mapping[str, str] | None = None) -> list[str]:
    """The states one execution enters, from StartAt to its end: a Choice takes its first rule
    (the one that goes on: the input is valid, the poll is done), unless ``branches`` names
    another (``"Default"``, or a rule's Next)."""
    states, path, name = defn["States"], [], defn["StartAt"]
    while name is not None:
        assert name not in path, f"{name} entered twice on the happy path"
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            wanted = (branches or {}).get(name)
            name = (
                state["Default"] if wanted == "Default" else wanted or state["Choices"][0]["Next"]
            )
        else:
            name = state.get("Next")
    return path


def steps_of(defn: Mapping[str, Any], path: list[str], steps: list[str]) -> dict[str, str]:
    """Each state on ``path`` -> the step it belongs to (the last step marker before it)."""
    owner, found = {}, ""
    for name in path:
        if name in steps:
            assert defn["States"][name]["Type"] == "Pass"
            found = name
        owner[name] = found
    return owner


def output(templates: Mapping[str, Template], stack: str, name: str) -> Any:
    """The value of ``stack``'s output ``name``."""
    return templates[stack].to_json()["Outputs"][name]["Value"]


def the_output(templates: Mapping[str, Template], token: str) -> Any:
    """The value behind ``<@Stack.Output>``."""
    stack, _, name = token.removeprefix("<@").removesuffix(">").partition(".")
    return output(templates, stack, name)


def single(resources: Resources, kind: str, **properties: object) -> tuple[str, dict[str, Any]]:
    """The one resource of ``kind`` whose properties include ``properties``."""
    ((logical, found),) = [
        (logical, r["Properties"])
        for logical, r in of_type(resources, kind).items()
        if all(r["Properties"].get(key) == value for key, value in properties.items())
    ]
    return logical, found


def rule_of(resources: Resources, function: str) -> str:
    """The logical id of the EventBridge rule that runs ``function``."""
    target, _ = single(resources, "AWS::Lambda::Function", FunctionName=f"exchange-prod-{function}")
    ((rule,),) = [
        [logical]
        for logical, r in of_type(resources, "AWS::Events::Rule").items()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [target, "Arn"]}
    ]
    return rule


# --- where they are, how they run ---------------------------------------------------------------


def test_the_runbooks_are_state_machines_of_the_dr_stack_only(
    resources: dict[str, Resources],
) -> None:
    for stack, found in resources.items():
        if stack != DR:
            assert not machines(found), stack
    found = machines(resources[DR])
    assert set(found) == {"exchange-prod-failover", "exchange-prod-failback"}
    groups = of_type(resources[DR], "AWS::Logs::LogGroup")
    for name, props in found.items():
        assert props["TracingConfiguration"] == {"Enabled": True}
        logging = props["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True)
        (destination,) = logging["Destinations"]
        group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert groups[group]["Properties"]["LogGroupName"] == f"/aws/vendedlogs/states/{name}"
        assert groups[group]["Properties"]["KmsKeyId"]
        defn = definition(resources[DR], name)
        assert defn["QueryLanguage"] == "JSONata"
        assert defn["TimeoutSeconds"] == 2 * 3600, "a stuck runbook times out (and pages)"


def test_failover_runs_the_runbooks_six_steps_in_order(resources: dict[str, Resources]) -> None:
    defn = definition(resources[DR], "exchange-prod-failover")
    path = walk(defn, {"PrimaryUnreachable?": "Default", "AlreadyTheWriter?": "Default"})
    assert [name for name in path if name in FAILOVER_STEPS] == FAILOVER_STEPS
    assert path == [
        "ValidateInput",
        "FencePrimary",
        "PrimaryUnreachable?",
        "StopPrimaryEngines",
        "DisablePrimarySchedules",
        "WaitForPrimaryEnginesStopped",
        "CheckPrimaryEngines",
        "PrimaryEnginesStopped?",
        "WriteFencingRecord",
        "PromoteAurora",
        "ReadGlobalCluster",
        "AlreadyTheWriter?",
        "FailoverGlobalCluster",
        "WaitForAuroraWriterMoved",
        "CheckGlobalCluster",
        "AuroraWriterMoved?",
        "StartDrEngines",
        *[f"StartDrEngine-{shard}" for shard in SHARDS],
        "WaitForDrEnginesRunning",
        "CheckDrEngines",
        "DrEnginesRunning?",
        "SwitchDns",
        "DnsNotManaged",  # no hosted zone in this synth (see the Route 53 tests below)
        "EnableDrSchedules",
        *[f"EnableSchedule-{name}" for name in SCHEDULED],
        "VerifyHealth",
        "ProbeDrHealth",
        "DrHealthy?",
        "FailedOver",
    ]
    assert defn["States"]["FailedOver"]["Type"] == "Succeed"


def test_only_the_explicit_flag_skips_stopping_the_primary_and_the_fence_is_written_anyway(
    resources: dict[str, Resources],
) -> None:
    defn = definition(resources[DR], "exchange-prod-failover")
    states = defn["States"]
    # The input is checked first: a reason, and primaryUnreachable a boolean if given, nothing
    # else (a misspelt flag is refused, not ignored)
    (valid,) = states["ValidateInput"]["Choices"]
    assert "$type($states.input.primaryUnreachable) = 'boolean'" in valid["Condition"]
    assert '$not($ in ["reason", "primaryUnreachable"])' in valid["Condition"]
    assert states["ValidateInput"]["Default"] == "InvalidInput"
    assert states["InvalidInput"]["Type"] == "Fail"
    # Only the boolean true itself sets the variable the skip reads
    assert valid["Assign"]["primaryUnreachable"] == "{% $states.input.primaryUnreachable = true %}"
    (skip,) = states["PrimaryUnreachable?"]["Choices"]
    assert skip["Condition"] == "{% $primaryUnreachable %}"
    assert states["PrimaryUnreachable?"]["Default"] == "StopPrimaryEngines"
    skipped = walk(defn, {"AlreadyTheWriter?": "Default"})
    assert skipped[skipped.index("PrimaryUnreachable?") :][:4] == [
        "PrimaryUnreachable?",
        "PrimaryLeftRunning",
        "WriteFencingRecord",
        "PromoteAurora",
    ]


@pytest.mark.parametrize(
    ("name", "steps"),
    [("exchange-prod-failover", FAILOVER_STEPS), ("exchange-prod-failback", FAILBACK_STEPS)],
)
def test_every_task_retries_then_fails_its_execution_naming_its_step(
    resources: dict[str, Resources], name: str, steps: list[str]
) -> None:
    defn = definition(resources[DR], name)
    states = defn["States"]
    path = walk(defn, {"PrimaryUnreachable?": "Default", "AlreadyTheWriter?": "Default"})
    owner = steps_of(defn, path, steps)
    tasks = [state for state in path if states[state]["Type"] == "Task"]
    assert len(tasks) >= len(steps)
    for task in tasks:
        props = states[task]
        *_, last = props["Retry"]
        assert last["ErrorEquals"] == ["States.ALL"], task
        assert (last["MaxAttempts"], last["IntervalSeconds"], last["BackoffRate"]) == (3, 5, 2)
        (catch,) = props["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], task
        assert catch["Output"] == "{% $states.errorOutput %}"
        fail = states[catch["Next"]]
        assert fail["Type"] == "Fail"
        assert catch["Next"] == fail["Error"] == f"{owner[task]}Failed", task
        assert fail["Cause"] == (
            "{% $string($states.input.Error) & ': ' & $string($states.input.Cause) %}"
        )
    # And every poll gives up after a bounded number of checks, failing its step
    for state in path:
        props = states[state]
        if props["Type"] != "Choice" or not state.endswith("?") or len(props["Choices"]) != 2:
            continue
        _, gave_up = props["Choices"]
        assert gave_up["Condition"].startswith("{% $polls >= ")
        assert gave_up["Next"] == f"{owner[state]}Failed"
        assert gave_up["Output"]["Error"] == "GaveUpWaiting"
        assert props["Default"].startswith("WaitFor")
        # the loop: Wait -> check (counting itself) -> this Choice
        check = states[props["Default"]]["Next"]
        assert states[check]["Next"] == state
        assert states[check]["Assign"]["polls"] == "{% $polls + 1 %}"
        assert states[owner[state]]["Assign"] == {"polls": 0}, "each step starts counting at 0"


def test_the_fence_step_stops_the_primary_through_the_control_function_then_writes_the_record(
    resources: dict[str, Resources],
) -> None:
    states = definition(resources[DR], "exchange-prod-failover")["States"]
    control, _ = single(
        resources[DR], "AWS::Lambda::Function", FunctionName="exchange-prod-dr-control"
    )
    for task, payload in (
        ("StopPrimaryEngines", {"action": dr_control.SCALE_ENGINES, "count": 0}),
        ("DisablePrimarySchedules", {"action": dr_control.SET_SCHEDULES, "enabled": False}),
        ("CheckPrimaryEngines", {"action": dr_control.ENGINES_SETTLED, "count": 0}),
    ):
        assert states[task]["Resource"] == LAMBDA
        assert states[task]["Arguments"] == {
            "FunctionName": f"<{control}.Arn>",
            "Payload": {**payload, "target": dr_control.PRIMARY},
        }
        assert states[task]["Output"] == "{% $states.result.Payload %}"
    assert states["PrimaryEnginesStopped?"]["Choices"][0]["Condition"] == (
        "{% $states.input.settled %}"
    )
    assert (
        f"$polls >= {ENGINES_STOP_CHECKS}"
        in states["PrimaryEnginesStopped?"]["Choices"][1]["Condition"]
    )
    fence = states["WriteFencingRecord"]
    assert fence["Resource"] == "arn:<AWS::Partition>:states:::dynamodb:updateItem"
    args = fence["Arguments"]
    assert args["TableName"] == "exchange-prod-failover"
    assert args["Key"] == {"scope": {"S": "exchange"}}
    assert args["ExpressionAttributeNames"] == {
        "#active": "active_region",
        "#epoch": "epoch",
        "#updated": "updated_ns",
        "#reason": "reason",
    }
    # Only while the primary holds it (or nobody ever moved it: the primary at epoch 0)
    assert args["ConditionExpression"] == "attribute_not_exists(#active) OR #active = :from"
    assert args["UpdateExpression"] == (
        "SET #active = :to, #epoch = if_not_exists(#epoch, :zero) + :one,"
        " #updated = :now, #reason = :reason"
    )
    values = args["ExpressionAttributeValues"]
    assert (values[":from"], values[":to"]) == ({"S": "us-east-1"}, {"S": "us-west-2"})
    assert (values[":zero"], values[":one"]) == ({"N": "0"}, {"N": "1"})
    assert values[":now"] == {"N": "{% $string($millis()) & '000000' %}"}
    assert "$states.context.Execution.Name" in values[":reason"]["S"]
    # A refused condition (another run moved the fence) is never retried
    first, *_ = fence["Retry"]
    assert first == {
        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
        "MaxAttempts": 0,
    }


def test_aurora_is_failed_over_into_dr_allowing_data_loss_then_polled_until_it_writes(
    resources: dict[str, Resources],
) -> None:
    states = definition(resources[DR], "exchange-prod-failover")["States"]
    dr_cluster, _ = single(resources[DR], "AWS::RDS::DBCluster")
    dr_arn = f"arn:aws:rds:us-west-2:<AWS::AccountId>:cluster:<{dr_cluster}>"
    call = states["FailoverGlobalCluster"]
    assert call["Resource"] == f"{SDK}rds:failoverGlobalCluster"
    assert call["Arguments"] == {
        "GlobalClusterIdentifier": "exchange-prod-ledger",
        "TargetDbClusterIdentifier": dr_arn,
        "AllowDataLoss": True,
    }
    for read in ("ReadGlobalCluster", "CheckGlobalCluster"):
        assert states[read]["Resource"] == f"{SDK}rds:describeGlobalClusters"
        assert states[read]["Arguments"] == {"GlobalClusterIdentifier": "exchange-prod-ledger"}
        done = states[read]["Output"]["done"]
        assert "$states.result.GlobalClusters[0].Status = 'available'" in done
        assert f"'{dr_arn}' in " in done
        assert "GlobalClusterMembers[IsWriter = true]" in done
    # Already the writer (promoted by hand, or a rerun): straight on to the engines
    assert states["AlreadyTheWriter?"]["Choices"][0] == {
        "Condition": "{% $states.input.done %}",
        "Next": "StartDrEngines",
    }
    assert f"$polls >= {AURORA_CHECKS}" in states["AuroraWriterMoved?"]["Choices"][1]["Condition"]


def test_the_dr_engines_start_one_task_per_shard_and_are_polled_until_running(
    resources: dict[str, Resources],
) -> None:
    states = definition(resources[DR], "exchange-prod-failover")["States"]
    cluster, _ = single(resources[DR], "AWS::ECS::Cluster")
    for shard in SHARDS:
        service, _ = single(resources[DR], "AWS::ECS::Service", ServiceName=f"engine-{shard}")
        start = states[f"StartDrEngine-{shard}"]
        assert start["Resource"] == f"{SDK}ecs:updateService"
        assert start["Arguments"] == {
            "Cluster": f"<{cluster}.Arn>",
            "Service": f"<{service}>",
            "DesiredCount": ACTIVE_ENGINES,
        }
    check = states["CheckDrEngines"]
    assert check["Resource"] == f"{SDK}ecs:describeServices"
    assert check["Arguments"]["Cluster"] == f"<{cluster}.Arn>"
    assert len(check["Arguments"]["Services"]) == len(SHARDS)
    assert check["Output"]["settled"] == (
        "{% $count($states.result.Services[DesiredCount = 1 and RunningCount = 1"
        f" and PendingCount = 0]) = {len(SHARDS)} %}}"
    )


def test_the_dr_schedules_created_disabled_are_enabled_by_name(
    resources: dict[str, Resources],
) -> None:
    failover = definition(resources[DR], "exchange-prod-failover")["States"]
    failback = definition(resources[DR], "exchange-prod-failback")["States"]
    for function in SCHEDULED:
        rule = rule_of(resources[DR], function)
        assert resources[DR][rule]["Properties"]["State"] == "DISABLED"
        enable = failover[f"EnableSchedule-{function}"]
        assert enable["Resource"] == f"{SDK}eventbridge:enableRule"
        assert enable["Arguments"] == {"Name": f"<{rule}>"}
        disable = failback[f"DisableSchedule-{function}"]
        assert disable["Resource"] == f"{SDK}eventbridge:disableRule"
        assert disable["Arguments"] == {"Name": f"<{rule}>"}


def test_health_is_verified_on_the_regions_own_health_route(
    resources: dict[str, Resources], templates: dict[str, Template]
) -> None:
    failover = definition(resources[DR], "exchange-prod-failover")["States"]
    failback = definition(resources[DR], "exchange-prod-failback")["States"]
    for states, probe, target in (
        (failover, "ProbeDrHealth", dr_control.DR),
        (failback, "ProbePrimaryHealth", dr_control.PRIMARY),
    ):
        assert states[probe]["Arguments"]["Payload"] == {
            "action": dr_control.PROBE_HEALTH,
            "target": target,
        }
        decide = states[states[probe]["Next"]]
        assert decide["Choices"][0]["Condition"] == "{% $states.input.healthy %}"
        assert f"$polls >= {HEALTH_CHECKS}" in decide["Choices"][1]["Condition"]
    # The URLs the control function probes: each region's stage URL + v1/health
    _, control = single(
        resources[DR], "AWS::Lambda::Function", FunctionName="exchange-prod-dr-control"
    )
    assert control["Handler"] == "lambdas.dr_control.handler.handler"
    targets = json.loads(render(control["Environment"]["Variables"][dr_control.TARGETS_ENV]))
    primary_url = targets[dr_control.PRIMARY]["health_url"]
    assert primary_url == "<@Exchange-prod-primary.RestApiUrl>v1/health"
    # The stage URL: https://<the nested REST API>.execute-api.<region>.<suffix>/<its stage>/
    stage_url = render(output(templates, PRIMARY, "RestApiUrl"))
    dr_url = targets[dr_control.DR]["health_url"]
    for url, region, suffix in ((stage_url, "us-east-1", "/"), (dr_url, "us-west-2", "/v1/health")):
        assert re.fullmatch(
            rf"https://<ApiRestStack[^>]*RestApi[^>]*Ref>\.execute-api\.{region}\.<AWS::URLSuffix>"
            rf"/<ApiRestStack[^>]*DeploymentStage{constants.API_STAGE}[^>]*Ref>{suffix}",
            url,
        ), url
    assert constants.HEALTH_PATH == "/v1/health"


def test_the_control_function_names_the_primarys_engines_and_schedules(
    resources: dict[str, Resources], templates: dict[str, Template]
) -> None:
    _, control = single(
        resources[DR], "AWS::Lambda::Function", FunctionName="exchange-prod-dr-control"
    )
    targets = json.loads(render(control["Environment"]["Variables"][dr_control.TARGETS_ENV]))
    primary = targets[dr_control.PRIMARY]
    assert primary["region"] == "us-east-1"
    cluster, _ = single(resources[PRIMARY], "AWS::ECS::Cluster")
    assert the_output(templates, primary["cluster"]) == {"Fn::GetAtt": [cluster, "Arn"]}
    services = [the_output(templates, service) for service in primary["services"]]
    assert services == [
        {"Ref": single(resources[PRIMARY], "AWS::ECS::Service", ServiceName=f"engine-{s}")[0]}
        for s in SHARDS
    ]
    rules = {the_output(templates, rule)["Ref"] for rule in primary["rules"]}
    assert rules == {rule_of(resources[PRIMARY], function) for function in SCHEDULED}
    assert targets[dr_control.DR]["region"] == "us-west-2"
    assert set(targets[dr_control.DR]) == {"region", "health_url"}, "nothing to scale in DR"


def test_failback_reverses_the_failover_once_the_primary_is_back(
    resources: dict[str, Resources], templates: dict[str, Template]
) -> None:
    defn = definition(resources[DR], "exchange-prod-failback")
    states = defn["States"]
    path = walk(defn, {"AlreadyTheWriter?": "Default"})
    assert [name for name in path if name in FAILBACK_STEPS] == FAILBACK_STEPS
    # The DR region stops cancelling orders and paying dividends before anything else
    assert path[path.index("FenceDr") + 1 :][: len(SCHEDULED)] == [
        f"DisableSchedule-{name}" for name in SCHEDULED
    ]
    assert [f"StopDrEngine-{shard}" for shard in SHARDS] == [
        name for name in path if name.startswith("StopDrEngine-")
    ]
    # The fence goes back only while DR holds it
    args = states["WriteFencingRecord"]["Arguments"]
    assert args["ConditionExpression"] == "#active = :from"
    values = args["ExpressionAttributeValues"]
    assert (values[":from"], values[":to"]) == ({"S": "us-west-2"}, {"S": "us-east-1"})
    # A switchover (no data loss) to the primary's cluster
    switchover = states["SwitchoverGlobalCluster"]
    assert switchover["Resource"] == f"{SDK}rds:switchoverGlobalCluster"
    target = switchover["Arguments"]["TargetDbClusterIdentifier"]
    assert "AllowDataLoss" not in switchover["Arguments"]
    prefix, _, token = target.partition(":cluster:")
    assert prefix == "arn:aws:rds:us-east-1:<AWS::AccountId>"
    primary_cluster, _ = single(resources[PRIMARY], "AWS::RDS::DBCluster")
    assert the_output(templates, token) == {"Ref": primary_cluster}
    # The primary's engines come back through the control function; DR returns to standby
    assert states["ScalePrimaryEngines"]["Arguments"]["Payload"] == {
        "action": dr_control.SCALE_ENGINES,
        "target": dr_control.PRIMARY,
        "count": ACTIVE_ENGINES,
    }
    assert states["EnablePrimaryRules"]["Arguments"]["Payload"] == {
        "action": dr_control.SET_SCHEDULES,
        "target": dr_control.PRIMARY,
        "enabled": True,
    }
    standby = [states[f"StandbyDrEngine-{s}"]["Arguments"]["DesiredCount"] for s in SHARDS]
    assert standby == [1] * len(SHARDS)  # prod's drEngineDesiredCount
    assert defn["States"][path[-1]]["Type"] == "Succeed"


# --- least privilege ----------------------------------------------------------------------------


def statements(resources: Resources, role: str) -> Iterator[dict[str, Any]]:
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def grants(resources: Resources, role: str) -> dict[str, set[str]]:
    """action -> the resources it is allowed on (rendered)."""
    found: dict[str, set[str]] = {}
    for statement in statements(resources, role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            found.setdefault(action, set()).update(
                render(r) for r in as_list(statement["Resource"])
            )
    return found


@pytest.mark.parametrize("name", ["exchange-prod-failover", "exchange-prod-failback"])
def test_each_state_machine_role_names_every_resource_it_touches(
    resources: dict[str, Resources], templates: dict[str, Template], name: str
) -> None:
    found = resources[DR]
    role = machines(found)[name]["RoleArn"]["Fn::GetAtt"][0]
    allowed = grants(found, role)
    # "*" only where AWS offers no resource scope
    assert {action for action, on in allowed.items() if "*" in on} == UNSCOPED
    assert all(on == {"*"} for action, on in allowed.items() if action in UNSCOPED)
    assert not [action for action in allowed if "*" in action], "no wildcard actions"
    dr_cluster, _ = single(found, "AWS::RDS::DBCluster")
    global_arn = "arn:aws:rds::<AWS::AccountId>:global-cluster:exchange-prod-ledger"
    clusters = {
        global_arn,
        f"arn:aws:rds:us-west-2:<AWS::AccountId>:cluster:<{dr_cluster}>",
    }
    rds = (
        "rds:FailoverGlobalCluster" if name.endswith("failover") else "rds:SwitchoverGlobalCluster"
    )
    granted = allowed.pop(rds)
    assert clusters < granted
    (primary_arn,) = granted - clusters
    prefix, _, token = primary_arn.partition(":cluster:")
    assert prefix == "arn:aws:rds:us-east-1:<AWS::AccountId>"
    primary_cluster, _ = single(resources[PRIMARY], "AWS::RDS::DBCluster")
    assert the_output(templates, token) == {"Ref": primary_cluster}
    assert allowed.pop("rds:DescribeGlobalClusters") == {global_arn}
    assert allowed.pop("dynamodb:UpdateItem") == {
        "arn:aws:dynamodb:us-west-2:<AWS::AccountId>:table/exchange-prod-failover"
    }
    services = {
        f"<{single(found, 'AWS::ECS::Service', ServiceName=f'engine-{s}')[0]}>" for s in SHARDS
    }
    assert allowed.pop("ecs:UpdateService") == allowed.pop("ecs:DescribeServices") == services
    rules = {f"<{rule_of(found, function)}.Arn>" for function in SCHEDULED}
    events = "events:EnableRule" if name.endswith("failover") else "events:DisableRule"
    assert allowed.pop(events) == rules
    control, _ = single(found, "AWS::Lambda::Function", FunctionName="exchange-prod-dr-control")
    assert allowed.pop("lambda:InvokeFunction") == {f"<{control}.Arn>", f"<{control}.Arn>:*"}
    # The table's key, through DynamoDB in the DR region only
    (key,) = [s for s in statements(found, role) if "kms:Decrypt" in as_list(s["Action"])]
    assert sorted(key["Action"]) == sorted(KEY_WRITE_ACTIONS)
    assert key["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-west-2.amazonaws.com"}
    }
    for action in KEY_WRITE_ACTIONS:
        allowed.pop(action)
    # Nothing else (route53 only with a hosted zone: see below)
    assert set(allowed) <= UNSCOPED


def test_the_control_functions_role_reaches_only_the_primarys_engines_and_rules(
    resources: dict[str, Resources], templates: dict[str, Template]
) -> None:
    found = resources[DR]
    _, control = single(found, "AWS::Lambda::Function", FunctionName="exchange-prod-dr-control")
    role = control["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in found[role]["Properties"]
    allowed = grants(found, role)
    assert allowed.pop("xray:PutTelemetryRecords") == allowed.pop("xray:PutTraceSegments") == {"*"}
    logs = control["LoggingConfig"]["LogGroup"]["Ref"]
    assert (
        allowed.pop("logs:CreateLogStream") == allowed.pop("logs:PutLogEvents") == {f"<{logs}.Arn>"}
    )
    services = allowed.pop("ecs:UpdateService")
    assert allowed.pop("ecs:DescribeServices") == services
    assert [the_output(templates, s) for s in sorted(services)] == [
        {"Ref": single(resources[PRIMARY], "AWS::ECS::Service", ServiceName=f"engine-{s}")[0]}
        for s in SHARDS
    ]
    rules = allowed.pop("events:EnableRule")
    assert allowed.pop("events:DisableRule") == rules
    assert {the_output(templates, r)["Fn::GetAtt"][0] for r in rules} == {
        rule_of(resources[PRIMARY], function) for function in SCHEDULED
    }
    assert allowed == {}


# --- paging -------------------------------------------------------------------------------------


def test_a_failed_or_timed_out_execution_pages(resources: dict[str, Resources]) -> None:
    topic = [
        {"Ref": name}
        for name in of_type(resources[DR], "AWS::SNS::Topic")
        if name.startswith("MonitoringAlarms")
    ]
    alarms = of_type(watched(resources, DR), "AWS::CloudWatch::Alarm")
    found = {}
    for props in (a["Properties"] for a in alarms.values()):
        if props.get("Namespace") == "AWS/States":
            (dimension,) = props["Dimensions"]
            assert dimension["Name"] == "StateMachineArn"
            found[(props["MetricName"], render(dimension["Value"]))] = props
    arns = {
        f"<{logical}>" for logical in of_type(resources[DR], "AWS::StepFunctions::StateMachine")
    }
    assert set(found) == {
        (metric, arn) for metric in ("ExecutionsFailed", "ExecutionsTimedOut") for arn in arns
    }
    for props in found.values():
        assert (props["Statistic"], props["Period"]) == ("Sum", 300)
        assert (props["Threshold"], props["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert props["EvaluationPeriods"] == 1
        assert props["AlarmActions"] == props["OKActions"] == topic
    primary = of_type(watched(resources, PRIMARY), "AWS::CloudWatch::Alarm").values()
    assert not [a for a in primary if a["Properties"].get("Namespace") == "AWS/States"]


# --- Route 53, with a hosted zone ---------------------------------------------------------------


@pytest.fixture(scope="module")
def zoned() -> dict[str, dict[str, Any]]:
    """The app synthesized once more, with a hosted zone: each stack's template by path."""
    app = build_app(context={**NO_BUNDLING, **ZONE}, nag=False)
    app.synth()
    return {
        node.node.path: dict(Template.from_stack(node).to_json())
        for node in app.node.find_all()
        if isinstance(node, Stack)
    }


def test_the_primarys_record_is_gated_by_its_health_and_the_failover_switch(
    zoned: dict[str, dict[str, Any]],
) -> None:
    found = zoned[PRIMARY]["Resources"]
    _, record = single(found, "AWS::Route53::RecordSet", Failover="PRIMARY")
    assert record["Name"] == "api.example.com."
    checks = of_type(found, "AWS::Route53::HealthCheck")
    gate = checks[record["HealthCheckId"]["Ref"]]["Properties"]["HealthCheckConfig"]
    assert (gate["Type"], gate["HealthThreshold"]) == ("CALCULATED", 2)
    endpoint, switch = (child["Ref"] for child in gate["ChildHealthChecks"])
    # The switch: calculated with threshold 0, always healthy until the failover inverts it
    config = checks[switch]["Properties"]["HealthCheckConfig"]
    assert (config["Type"], config["HealthThreshold"], config["Inverted"]) == (
        "CALCULATED",
        0,
        False,
    )
    # The endpoint check: the primary's own stage, GET /<stage>/v1/health over HTTPS
    probe = checks[endpoint]["Properties"]["HealthCheckConfig"]
    assert (probe["Type"], probe["Port"], probe["EnableSNI"]) == ("HTTPS", 443, True)
    assert render(probe["FullyQualifiedDomainName"]).endswith(
        ".execute-api.us-east-1.<AWS::URLSuffix>"
    )
    path = render(probe["ResourcePath"])
    assert path.startswith("/<ApiRestStack")
    assert path.endswith(constants.HEALTH_PATH)
    assert "Stagelive" in path, "the deployed stage, whose name is constants.API_STAGE"


def test_the_health_route_the_checks_probe_is_a_public_get_on_the_stage(
    zoned: dict[str, dict[str, Any]],
) -> None:
    resources = {path: template["Resources"] for path, template in zoned.items()}
    for stack in (PRIMARY, DR):
        api = nested(resources, REST[stack])
        (stage,) = [r["Properties"] for r in of_type(api, "AWS::ApiGateway::Stage").values()]
        assert stage["StageName"] == constants.API_STAGE
        parts = {
            logical: r["Properties"]
            for logical, r in of_type(api, "AWS::ApiGateway::Resource").items()
        }
        v1, health = constants.HEALTH_PATH.strip("/").split("/")
        (health_id,) = [
            logical
            for logical, props in parts.items()
            if props["PathPart"] == health and parts[props["ParentId"]["Ref"]]["PathPart"] == v1
        ]
        (method,) = [
            r["Properties"]
            for r in of_type(api, "AWS::ApiGateway::Method").values()
            if r["Properties"]["ResourceId"] == {"Ref": health_id}
            and r["Properties"]["HttpMethod"] == "GET"
        ]
        assert method["AuthorizationType"] == "NONE"
        function, _ = single(
            resources[stack], "AWS::Lambda::Function", FunctionName="exchange-prod-health"
        )
        assert f"<{function}.Arn>" in render(method["Integration"]["Uri"])
        # and the DR region's record is the SECONDARY one, on its own endpoint check
        if stack == DR:
            _, record = single(resources[DR], "AWS::Route53::RecordSet", Failover="SECONDARY")
            check = resources[DR][record["HealthCheckId"]["Ref"]]["Properties"]["HealthCheckConfig"]
            assert check["Type"] == "HTTPS"
            assert render(check["FullyQualifiedDomainName"]).endswith(
                ".execute-api.us-west-2.<AWS::URLSuffix>"
            )


def test_the_dns_steps_invert_and_revert_the_primarys_switch(
    zoned: dict[str, dict[str, Any]],
) -> None:
    dr = zoned[DR]["Resources"]
    primary = zoned[PRIMARY]["Resources"]
    _, record = single(primary, "AWS::Route53::RecordSet", Failover="PRIMARY")
    gate = primary[record["HealthCheckId"]["Ref"]]["Properties"]["HealthCheckConfig"]
    switch = gate["ChildHealthChecks"][1]
    outputs = zoned[PRIMARY]["Outputs"]
    for name, task, inverted in (
        ("exchange-prod-failover", "InvertFailoverSwitch", True),
        ("exchange-prod-failback", "RevertFailoverSwitch", False),
    ):
        defn = definition(dr, name)
        assert "DnsNotManaged" not in defn["States"]
        state = defn["States"][task]
        assert state["Resource"] == f"{SDK}route53:updateHealthCheck"
        token = state["Arguments"]["HealthCheckId"]
        assert state["Arguments"]["Inverted"] is inverted
        # The health check id is the primary stack's output of exactly the switch
        stack, _, output_name = token.removeprefix("<@").removesuffix(">").partition(".")
        assert stack == PRIMARY
        assert outputs[output_name]["Value"] == switch
        role = machines(dr)[name]["RoleArn"]["Fn::GetAtt"][0]
        assert grants(dr, role)["route53:UpdateHealthCheck"] == {
            f"arn:aws:route53:::healthcheck/{token}"
        }
