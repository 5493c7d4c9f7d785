"""What runs around the requests: the user pool's post-confirmation trigger opens a confirmed
user's ledger account, and the migration runner runs on every deploy that changes it, after the
database and before the functions that use it. Both only in the primary region, which has the pool
and the writable cluster."""

import pytest

from lambdas.catalog import FUNCTIONS, Need, Trigger
from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY, Resources, of_type
from tests.infrastructure.test_functions import function, function_id, only

ONBOARDING = only(Trigger.COGNITO_POST_CONFIRMATION)
MIGRATE = only(Trigger.DEPLOY)
LEDGER = [spec for spec in FUNCTIONS.values() if Need.LEDGER in spec.needs]


def test_the_pool_runs_the_onboarding_function_after_each_confirmation(
    resources: dict[str, Resources],
) -> None:
    ((pool, props),) = of_type(resources[PRIMARY], "AWS::Cognito::UserPool").items()
    onboarding = function_id(resources[PRIMARY], ONBOARDING)
    assert props["Properties"]["LambdaConfig"] == {
        "PostConfirmation": {"Fn::GetAtt": [onboarding, "Arn"]}
    }
    # Cognito may invoke it, for this pool only ("Customizing user pool workflows with Lambda
    # triggers": the function's resource policy allows cognito-idp.amazonaws.com).
    permissions = [
        p["Properties"]
        for p in of_type(resources[PRIMARY], "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [onboarding, "Arn"]},
            "Principal": "cognito-idp.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [pool, "Arn"]},
        }
    ]


def test_the_onboarding_function_needs_nothing_of_the_pool_so_there_is_no_cycle(
    resources: dict[str, Resources],
) -> None:
    env = function(resources[PRIMARY], ONBOARDING)["Environment"]["Variables"]
    assert not [name for name in env if "USER_POOL" in name or "CLIENT_ID" in name]
    # Cognito waits about 5 s for a trigger: the function must answer within that
    assert function(resources[PRIMARY], ONBOARDING)["Timeout"] <= 5


def test_the_dr_region_wires_no_cognito_trigger(resources: dict[str, Resources]) -> None:
    assert not of_type(resources[DR], "AWS::Cognito::UserPool")
    assert not [
        p
        for p in of_type(resources[DR], "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    ]


def test_the_migration_runner_runs_on_deploy_after_the_cluster_and_the_proxy(
    resources: dict[str, Resources],
) -> None:
    primary = resources[PRIMARY]
    ((trigger_id, trigger),) = of_type(primary, "Custom::Trigger").items()
    props = trigger["Properties"]
    # It invokes the function's current version: a new version (code, layer or environment)
    # is a change of the resource, so the migrations run again on that deploy.
    version = props["HandlerArn"]["Ref"]
    assert primary[version]["Type"] == "AWS::Lambda::Version"
    assert primary[version]["Properties"]["FunctionName"] == {"Ref": function_id(primary, MIGRATE)}
    assert props["ExecuteOnHandlerChange"] is True
    assert props["InvocationType"] == "RequestResponse"  # a failed run fails the deploy
    assert int(props["Timeout"]) == MIGRATE.timeout_seconds * 1000
    ((cluster, _),) = of_type(primary, "AWS::RDS::DBCluster").items()
    ((proxy, _),) = of_type(primary, "AWS::RDS::DBProxy").items()
    instances = list(of_type(primary, "AWS::RDS::DBInstance"))
    assert {cluster, proxy, *instances} <= set(trigger["DependsOn"])
    # Schema first, then code: every ledger function deploys after the run
    for spec in LEDGER:
        logical = function_id(primary, spec)
        assert trigger_id in primary[logical]["DependsOn"], spec.name


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_only_the_primary_runs_migrations_since_the_dr_cluster_is_a_read_only_secondary(
    resources: dict[str, Resources], stack: str
) -> None:
    triggers = of_type(resources[stack], "Custom::Trigger")
    assert len(triggers) == (1 if stack == PRIMARY else 0)
    # The runner exists in both (an operator invokes the DR one after a promotion)
    assert function(resources[stack], MIGRATE)["ReservedConcurrentExecutions"] == 1
