"""The CDK app: four stacks in two regions, the shared layer, tags, context and cdk-nag wiring."""

from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from exchange.domain import ConfigurationError
from stacks import constants
from stacks.composition import cdk_json_context, stack_id
from stacks.config import DeploymentConfig, KinesisMode, RegionRole
from stacks.constructs.bundling import PipLayerBundling
from stacks.constructs.nag import acknowledge
from tests.infrastructure.conftest import (
    DR,
    DR_BASE,
    MAIN_STACKS,
    MONITORING,
    NESTED,
    NO_BUNDLING,
    PRIMARY,
    PRIMARY_BASE,
    Resources,
)


def config_from(context: dict[str, object]) -> DeploymentConfig:
    app = App(context={**cdk_json_context(), **NO_BUNDLING, **context})
    return DeploymentConfig.from_node(app.node)


def test_a_base_and_a_main_stack_per_region_with_explicit_zones(
    stacks: dict[str, Stack],
) -> None:
    assert set(stacks) == {PRIMARY, DR, PRIMARY_BASE, DR_BASE, *NESTED}
    assert {stacks[PRIMARY].region, stacks[PRIMARY_BASE].region} == {"us-east-1"}
    assert {stacks[DR].region, stacks[DR_BASE].region} == {"us-west-2"}
    assert stacks[PRIMARY].availability_zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert stacks[DR].availability_zones == ["us-west-2a", "us-west-2b", "us-west-2c"]


# "CloudFormation quotas": at most 500 resources in a stack (the CDK refuses to synthesize more); a
# nested stack is a stack of its own, and one resource (AWS::CloudFormation::Stack) of its parent.
MAX_RESOURCES = 500


def test_every_stack_stays_within_cloudformations_resource_quota(
    resources: dict[str, Resources], capsys: pytest.CaptureFixture[str]
) -> None:
    counts = {name: len(found) for name, found in resources.items()}
    with capsys.disabled():  # in every run's log: the headroom left
        print(f"\nresources per stack (at most {MAX_RESOURCES}): {counts}")
    assert all(count <= MAX_RESOURCES for count in counts.values()), counts
    # The alarms live in each main stack's nested stack, which the main stack counts as one.
    for stack, nested in MONITORING.items():
        assert not [r for r in resources[stack].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
        assert [r for r in resources[nested].values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def test_stacks_depend_on_each_other_in_deploy_order(stacks: dict[str, Stack]) -> None:
    # dr-base -> primary-base (replicates into it) -> primary -> dr (joins its global cluster)
    def deps(name: str) -> set[str]:
        return {stack.node.id for stack in stacks[name].dependencies}

    assert DR_BASE in deps(PRIMARY_BASE)
    assert {PRIMARY_BASE, DR_BASE} <= deps(PRIMARY)
    assert {PRIMARY, DR_BASE} <= deps(DR)
    assert not deps(DR_BASE)


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_shared_layer_targets_the_lambda_runtime(
    templates: dict[str, Template], stack: str
) -> None:
    templates[stack].resource_count_is("AWS::Lambda::LayerVersion", 1)
    templates[stack].has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )
    templates[stack].has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": "/serverless-exchange/prod/layers/exchange/arn",
            "Value": {"Ref": Match.any_value()},
        },
    )


@pytest.mark.parametrize("stack", [PRIMARY, DR, PRIMARY_BASE, DR_BASE, *NESTED])
def test_every_tagged_resource_carries_the_five_tags(
    resources: dict[str, Resources], stack: str
) -> None:
    tagged = {
        name: r["Properties"]["Tags"]
        for name, r in resources[stack].items()
        if "Tags" in r.get("Properties", {})
    }
    assert tagged, "expected at least one taggable resource"
    for name, tags in tagged.items():
        keys = set(tags) if isinstance(tags, dict) else {tag["Key"] for tag in tags}
        assert keys >= set(constants.TAG_KEYS), f"{name} misses {set(constants.TAG_KEYS) - keys}"


def test_cdk_json_context_and_feature_flags_reach_the_app(app: App) -> None:
    # python app.py and pytest do not read cdk.json themselves; build_app must.
    flags = {k: v for k, v in cdk_json_context().items() if k.startswith("@aws-cdk")}
    assert len(flags) > 50
    for key, value in flags.items():
        assert app.node.try_get_context(key) == value, key


def test_the_environment_picks_its_profile_and_names_the_stacks() -> None:
    # Given the dev environment chosen on the command line
    config = config_from({"exchange:environment": "dev"})
    # Then its profile applies, and the stacks are named for it
    assert (config.retain_data, config.kinesis_mode, config.nat_gateways) == (
        False,
        KinesisMode.ON_DEMAND,
        1,
    )
    assert stack_id(config, RegionRole.DR, base=True) == "Exchange-dev-dr-base"


def test_prod_retains_data_and_cli_context_overrides_the_profile() -> None:
    # Given prod with the DR engine count and the WAF window overridden as the CLI passes them
    config = config_from(
        {"exchange:drEngineDesiredCount": "0", "exchange:wafRateWindowSeconds": "60"}
    )
    assert config.retain_data is True
    assert config.dr_engine_desired_count == 0
    assert config.waf_rate_window_seconds == 60


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"exchange:drRegion": "us-east-1"}, "must differ"),
        (
            {"exchange:availabilityZones": {"us-east-1": ["us-east-1a"], "us-west-2": []}},
            "needs 3 zones",
        ),
        ({"exchange:environment": "Prod!"}, "no profile"),
        ({"exchange:environment": "staging"}, "no profile"),
        ({"exchange:account": "12345"}, "account"),
        ({"exchange:drEngineDesiredCount": 2}, "drEngineDesiredCount"),
        ({"exchange:kinesisMode": "burst"}, "kinesisMode"),
        ({"exchange:wafRateWindowSeconds": 30}, "wafRateWindowSeconds"),
        ({"exchange:hostedZoneId": "Z123"}, "hostedZoneName"),
        ({"exchange:logRetention": "FOREVER"}, "RetentionDays"),
        ({"exchange:environments": {"prod": {"retainDate": True}}}, "retainDate"),
    ],
)
def test_bad_deployment_context_is_one_typed_error(
    override: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config_from(override)


def test_cdk_nag_fails_synth_on_an_insecure_resource(tmp_path: Path) -> None:
    # Given the nag-checked app with a bucket that allows plain HTTP and has no access logs
    app = App(context={**cdk_json_context(), **NO_BUNDLING}, outdir=str(tmp_path))
    stack = Stack(app, "Probe", env={"region": "us-east-1"})
    s3.Bucket(stack, "Insecure")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # When synthesized, then validation stops it
    with pytest.raises(RuntimeError, match="AwsSolutions-S"):
        app.synth()


@pytest.mark.parametrize(
    ("rule", "reason", "message"),
    [
        ("AwsSolutions-S1", "because", "specific reason"),
        ("S1", "a reason long enough to pass the length check, but no rule", "not a cdk-nag"),
    ],
)
def test_an_acknowledgment_needs_a_named_rule_and_a_real_reason(
    rule: str, reason: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        acknowledge(Stack(App(), "Probe"), {rule: reason})


def test_layer_bundling_installs_lambda_wheels_prunes_runtime_packages_and_copies_source(
    tmp_path: Path,
) -> None:
    # Given a bundler whose pip is a stand-in that leaves what pip would
    commands: list[list[str]] = []

    def fake_pip(command: list[str]) -> None:
        commands.append(list(command))
        target = Path(command[command.index("--target") + 1])
        for name in ("msgspec", "botocore", "boto3"):
            (target / name).mkdir(parents=True)
        (target / "botocore-1.0.dist-info").mkdir()

    bundler = PipLayerBundling(
        source_dir=constants.SHARED_LAYER_DIR,
        package="exchange",
        platforms=constants.LAMBDA_PIP_PLATFORMS,
        python_version="3.13",
        prune=constants.LAMBDA_RUNTIME_PROVIDED,
        runner=fake_pip,  # type: ignore[arg-type]
    )
    # When it bundles
    assert bundler.try_bundle(str(tmp_path), None) is True  # type: ignore[arg-type]
    # Then pip was asked for binary wheels of every Lambda platform tag and the Python
    (command,) = commands
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == ["manylinux2014_aarch64", "manylinux_2_28_aarch64"]
    assert command[command.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in command
    assert command[-1] == str(constants.SHARED_LAYER_DIR / "requirements.txt")
    # And the runtime's own packages are gone, and the package source is in, without caches
    layer = tmp_path / "python"
    assert sorted(p.name for p in layer.iterdir()) == ["exchange", "msgspec"]
    assert (layer / "exchange" / "wire.py").is_file()
    assert (layer / "exchange" / "data" / "instruments.json").is_file()
    assert not list(layer.rglob("__pycache__"))
