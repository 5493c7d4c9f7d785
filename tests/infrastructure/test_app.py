"""The CDK app: two regions, the shared layer, tags, context from cdk.json, and cdk-nag."""

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from exchange.domain import ConfigurationError
from stacks import constants
from stacks.composition import build_app, cdk_json_context
from stacks.constructs.bundling import PipLayerBundling
from tests.infrastructure.conftest import NO_BUNDLING

PRIMARY, DR = "Exchange-prod-primary", "Exchange-prod-dr"


def test_one_stack_per_region_with_explicit_zones(stacks: dict[str, Stack]) -> None:
    assert set(stacks) == {PRIMARY, DR}
    assert stacks[PRIMARY].region == "us-east-1"
    assert stacks[DR].region == "us-west-2"
    assert stacks[PRIMARY].availability_zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert stacks[DR].availability_zones == ["us-west-2a", "us-west-2b", "us-west-2c"]


@pytest.mark.parametrize("stack", [PRIMARY, DR])
def test_shared_layer_targets_the_lambda_runtime(
    templates: dict[str, Template], stack: str
) -> None:
    templates[stack].resource_count_is("AWS::Lambda::LayerVersion", 1)
    templates[stack].has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["x86_64"]},
    )
    templates[stack].has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": "/serverless-exchange/prod/layers/exchange/arn",
            "Value": {"Ref": Match.any_value()},
        },
    )


@pytest.mark.parametrize("stack", [PRIMARY, DR])
def test_every_tagged_resource_carries_the_five_tags(
    templates: dict[str, Template], stack: str
) -> None:
    resources = templates[stack].to_json()["Resources"]
    tagged = {
        name: r["Properties"]["Tags"]
        for name, r in resources.items()
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


def test_cli_context_overrides_cdk_json() -> None:
    app = build_app(context={**NO_BUNDLING, "exchange:environment": "staging"}, nag=False)
    ids = {child.node.id for child in app.node.children if isinstance(child, Stack)}
    assert ids == {"Exchange-staging-primary", "Exchange-staging-dr"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"exchange:drRegion": "us-east-1"}, "must differ"),
        (
            {"exchange:availabilityZones": {"us-east-1": ["us-east-1a"], "us-west-2": []}},
            "needs 3 zones",
        ),
        ({"exchange:environment": "Prod!"}, "environment"),
        ({"exchange:account": "12345"}, "account"),
    ],
)
def test_bad_deployment_context_is_one_typed_error(
    override: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_app(context={**NO_BUNDLING, **override}, nag=False)


def test_cdk_nag_finds_nothing_in_the_app(tmp_path: Path) -> None:
    app = build_app(context=NO_BUNDLING, outdir=str(tmp_path))
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_cdk_nag_fails_synth_on_an_insecure_resource(tmp_path: Path) -> None:
    # Given the nag-checked app with a bucket that allows plain HTTP and has no access logs
    app = App(context={**cdk_json_context(), **NO_BUNDLING}, outdir=str(tmp_path))
    stack = Stack(app, "Probe", env={"region": "us-east-1"})
    s3.Bucket(stack, "Insecure")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    # When synthesized, then validation stops it
    with pytest.raises(RuntimeError, match="AwsSolutions-S"):
        app.synth()


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
        platform="manylinux2014_x86_64",
        python_version="3.13",
        prune=constants.LAMBDA_RUNTIME_PROVIDED,
        runner=fake_pip,  # type: ignore[arg-type]
    )
    # When it bundles
    assert bundler.try_bundle(str(tmp_path), None) is True  # type: ignore[arg-type]
    # Then pip was asked for binary wheels of the Lambda platform and Python
    (command,) = commands
    assert command[command.index("--platform") + 1] == "manylinux2014_x86_64"
    assert command[command.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in command
    assert command[-1] == str(constants.SHARED_LAYER_DIR / "requirements.txt")
    # And the runtime's own packages are gone, and the package source is in, without caches
    layer = tmp_path / "python"
    assert sorted(p.name for p in layer.iterdir()) == ["exchange", "msgspec"]
    assert (layer / "exchange" / "wire.py").is_file()
    assert (layer / "exchange" / "data" / "instruments.json").is_file()
    assert not list(layer.rglob("__pycache__"))
