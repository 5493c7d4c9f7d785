"""Names and defaults of the CDK app, in one place."""

from pathlib import Path
from typing import Final

from aws_cdk import aws_lambda as lambda_

PROJECT: Final = "serverless-exchange"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent

# Every Lambda runs this runtime; .venv is built with the same Python so tests run what Lambda runs.
LAMBDA_RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE: Final = lambda_.Architecture.X86_64
LAMBDA_PYTHON_VERSION: Final = "3.13"
LAMBDA_PIP_PLATFORM: Final = "manylinux2014_x86_64"
LAMBDA_MEMORY_MB: Final = 1024

SHARED_LAYER_DIR: Final = REPO_ROOT / "layers" / "exchange"
SHARED_LAYER_PACKAGE: Final = "exchange"
# Provided by the Lambda Python runtime, so pruned from the layer (they are large).
LAMBDA_RUNTIME_PROVIDED: Final = ("boto3", "botocore", "s3transfer")

TAG_KEYS: Final = ("Project", "Environment", "Owner", "CostCenter", "Compliance")


def parameter_name(environment: str, *parts: str) -> str:
    """The SSM parameter path of a value other stacks and regions look up."""
    return "/".join(("", PROJECT, environment, *parts))
