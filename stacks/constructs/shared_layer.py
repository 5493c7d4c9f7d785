"""The shared code (``layers/exchange``) as a Lambda layer, and its ARN in SSM for other stacks."""

from aws_cdk import BundlingOptions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks import constants
from stacks.constructs.bundling import PipLayerBundling


class SharedLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, environment: str) -> None:
        super().__init__(scope, construct_id)
        bundling = PipLayerBundling(
            source_dir=constants.SHARED_LAYER_DIR,
            package=constants.SHARED_LAYER_PACKAGE,
            platforms=constants.LAMBDA_PIP_PLATFORMS,
            python_version=constants.LAMBDA_PYTHON_VERSION,
            prune=constants.LAMBDA_RUNTIME_PROVIDED,
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(constants.SHARED_LAYER_DIR),
                bundling=BundlingOptions(
                    image=constants.LAMBDA_RUNTIME.bundling_image,
                    local=bundling,  # type: ignore[arg-type]  # jsii protocol, checked at runtime
                    # Only used where local bundling is unavailable (never here: it is pure pip).
                    command=[
                        "bash",
                        "-c",
                        "pip install -r requirements.txt -t /asset-output/python"
                        f" && cp -r python/{constants.SHARED_LAYER_PACKAGE} /asset-output/python/",
                    ],
                ),
            ),
            compatible_runtimes=[constants.LAMBDA_RUNTIME],
            compatible_architectures=[constants.LAMBDA_ARCHITECTURE],
            description="Shared exchange code: domain types, wire format, settings, observability",
        )
        self.arn_parameter = ssm.StringParameter(
            self,
            "ArnParameter",
            parameter_name=constants.parameter_name(environment, "layers", "exchange", "arn"),
            string_value=self.layer.layer_version_arn,
            description="ARN of the current shared exchange layer version",
        )
