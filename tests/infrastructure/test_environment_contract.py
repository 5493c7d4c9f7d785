"""The environment contract: each deployable's settings model validates from exactly the
environment the synthesized template gives it (both regions), and reads every ``EXCHANGE_*``
variable the template sets; each table the catalog gives a function and the AWS form of each of
its needs is set (``tests.fidelity.contract``).

Intrinsics are resolved (``tests.fidelity.cfn``); what only exists once deployed (an endpoint
address, say) becomes a placeholder string, so its presence and type are checked, not its value.
Besides the template's variables a Lambda function sees those its runtime defines; of those the
models read ``AWS_REGION`` ("Defined runtime environment variables", AWS Lambda Developer Guide).
The engine's task gets exactly its container's ``Environment``.
"""

from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from exchange.settings import EngineSettings
from lambdas.catalog import FUNCTIONS, Trigger
from tests.fidelity.cfn import Stacks, StackTemplate
from tests.fidelity.contract import function_problems, problems
from tests.fidelity.deployment import Deployment
from tests.infrastructure.conftest import DR, MAIN_STACKS, PRIMARY

# Functions the DR region may go without: the migrations run where the writer is, and the user
# pool (and so its trigger) lives in the primary region.
PRIMARY_ONLY = frozenset({Trigger.DEPLOY, Trigger.COGNITO_POST_CONFIRMATION})


@pytest.fixture(scope="module")
def deployments(templates: dict[str, Template], stacks: dict[str, Stack]) -> dict[str, Deployment]:
    fidelity = Stacks(
        StackTemplate(name, stacks[name].region, template.to_json())
        for name, template in templates.items()
    )
    return {name: Deployment(fidelity, name) for name in MAIN_STACKS}


def lambda_environment(deployment: Deployment, name: str) -> dict[str, Any]:
    return {"AWS_REGION": deployment.region, **deployment.function_environment(name)}


def test_every_catalog_function_is_deployed(deployments: Mapping[str, Deployment]) -> None:
    assert set(deployments[PRIMARY].functions) == set(FUNCTIONS)
    missing = set(FUNCTIONS) - set(deployments[DR].functions)
    assert {FUNCTIONS[name].trigger for name in missing} <= PRIMARY_ONLY, missing


def test_each_function_reads_its_settings_from_exactly_its_template_environment(
    deployments: Mapping[str, Deployment], capsys: pytest.CaptureFixture[str]
) -> None:
    environments = [
        lambda_environment(deployment, name)
        for deployment in deployments.values()
        for name in deployment.functions
    ]
    with capsys.disabled():  # in every run's log, not only a failing one's
        variables = sum(len(environment) for environment in environments)
        print(f"\nenvironment contract: {len(environments)} environments, {variables} variables")
    broken = {
        f"{stack}/{name}": found
        for stack, deployment in deployments.items()
        for name in sorted(deployment.functions)
        if (found := function_problems(FUNCTIONS[name], lambda_environment(deployment, name)))
    }
    assert broken == {}


def test_the_engine_reads_its_settings_from_exactly_its_task_environment(
    deployments: Mapping[str, Deployment],
) -> None:
    for stack, deployment in deployments.items():
        environments = deployment.engine_environments()
        assert environments, f"{stack} has no engine task"
        for environment in environments:
            assert problems(EngineSettings, environment) == [], stack


def _new_problems(before: list[str], after: list[str]) -> list[str]:
    return sorted(set(after) - set(before))


@pytest.mark.parametrize(
    ("function", "variable"),
    [
        ("ws_authorizer", "EXCHANGE_USER_POOL_ID"),  # required by the model's validator
        ("orders", "EXCHANGE_ORDERS_TABLE"),  # defaulted by the model, needed in AWS
        ("fanout", "EXCHANGE_WS_MANAGEMENT_ENDPOINT"),  # optional in the model, needed in AWS
        ("rest_authorizer", "EXCHANGE_API_KEY_KMS_KEY_ID"),  # optional locally, needed in AWS
        ("api_keys", "EXCHANGE_API_KEY_KMS_KEY_ID"),
        ("orders", "EXCHANGE_CANCEL_AFTER_QUEUE_URL"),  # optional locally, needed in AWS
        ("settlement", "EXCHANGE_WS_MANAGEMENT_ENDPOINT"),  # pushes balances (optional locally)
        ("recorder", "EXCHANGE_WS_MANAGEMENT_ENDPOINT"),  # pushes orders (optional locally)
        ("account", "EXCHANGE_PAYOUT_QUEUE_URL"),  # optional in the model, needed in AWS
        ("payouts", "EXCHANGE_PAYOUT_PROVIDER_SECRET_ARN"),  # locally the secret itself
        ("payouts", "EXCHANGE_PAYOUT_PROVIDER_URL"),
        ("notifier", "EXCHANGE_NOTIFICATIONS_TOPIC_ARN"),
        ("emailer", "EXCHANGE_EMAIL_SENDER"),  # defaulted by the model to a placeholder
        ("emailer", "EXCHANGE_EMAIL_CONFIGURATION_SET"),
        ("emailer", "EXCHANGE_USER_POOL_REGION"),  # the pool is in the primary region
    ],
)
def test_a_removed_variable_breaks_the_contract(
    deployments: Mapping[str, Deployment], function: str, variable: str
) -> None:
    environment = lambda_environment(deployments[PRIMARY], function)
    assert variable in environment
    before = function_problems(FUNCTIONS[function], environment)
    without = {name: value for name, value in environment.items() if name != variable}
    added = _new_problems(before, function_problems(FUNCTIONS[function], without))
    assert added, f"removing {variable} went unnoticed"
    assert all(variable in problem for problem in added), added


def test_a_removed_engine_variable_and_a_dead_one_break_the_contract(
    deployments: Mapping[str, Deployment],
) -> None:
    (environment, *_) = deployments[PRIMARY].engine_environments()
    without = {name: value for name, value in environment.items() if name != "EXCHANGE_SHARD_ID"}
    assert [p for p in problems(EngineSettings, without) if "EXCHANGE_SHARD_ID" in p]
    dead = {**environment, "EXCHANGE_SNAPSHOT_EVERY_EVENT": "5"}  # a typo of a real setting
    assert problems(EngineSettings, dead) == [
        "EXCHANGE_SNAPSHOT_EVERY_EVENT is set but EngineSettings reads no such variable"
    ]
