"""Names and defaults of the CDK app, in one place. (The environment variable of a settings
field is ``exchange.settings.env_var``.)"""

from pathlib import Path
from typing import Final

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds

PROJECT: Final = "serverless-exchange"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent

# Every Lambda runs this runtime; .venv is built with the same Python so tests run what Lambda runs.
LAMBDA_RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
# arm64 (Graviton): cheaper per GB-s. Every pinned wheel of the layer exists for aarch64, some only
# as manylinux_2_28 (psycopg-binary), which the runtime's Amazon Linux 2023 (glibc 2.34) loads.
LAMBDA_ARCHITECTURE: Final = lambda_.Architecture.ARM_64
LAMBDA_PYTHON_VERSION: Final = "3.13"
LAMBDA_PIP_PLATFORMS: Final = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
LAMBDA_MEMORY_MB: Final = 1024
# The function code asset: the `lambdas` package only, from the repository root, so the handler
# path `lambdas.<name>.handler.handler` resolves as it does in tests and local mode.
LAMBDA_CODE_EXCLUDE: Final = ("**", "!lambdas/**", "**/__pycache__", "**/*.pyc", "**/tests/**")
# Journal consumers whose latency users see get a dedicated enhanced fan-out pipe (2 MB/s per shard
# each, pushed); the rest share the stream's polled throughput.
ENHANCED_FAN_OUT_CONSUMERS: Final = frozenset({"fanout", "recorder"})
KINESIS_BATCH_SIZE: Final = 100
KINESIS_RETRY_ATTEMPTS: Final = 10
KINESIS_PARALLELIZATION: Final = 1  # > 1 would reorder a symbol's records within a shard
KINESIS_RETENTION_HOURS: Final = 24

SHARED_LAYER_DIR: Final = REPO_ROOT / "layers" / "exchange"
SHARED_LAYER_PACKAGE: Final = "exchange"
# Provided by the Lambda Python runtime, so pruned from the layer (they are large).
LAMBDA_RUNTIME_PROVIDED: Final = ("boto3", "botocore", "s3transfer")

# The matching engine: one task per shard, each on its own c5.2xlarge (8 vCPU, 16 GiB).
ENGINE_DOCKERFILE: Final = "engine_service/Dockerfile"
ENGINE_INSTANCE_TYPE: Final = "c5.2xlarge"
ENGINE_CPU_UNITS: Final = 6144  # leaves 2 vCPU to the ECS agent, SSM agent and the kernel
ENGINE_MEMORY_MIB: Final = 12288
# ECS's ceiling: SIGTERM, then SIGKILL this much later. The engine drains, acks and snapshots.
ENGINE_STOP_TIMEOUT_SECONDS: Final = 120

AURORA_VERSION: Final = rds.AuroraPostgresEngineVersion.VER_16_13
AURORA_BACKUP_DAYS: Final = 35
DATABASE_NAME: Final = "exchange"
DATABASE_ADMIN: Final = "exchange_admin"
REDIS_ENGINE_VERSION: Final = "7.1"
REDIS_PORT: Final = 6380  # not the default 6379
BROKER_ENGINE_VERSION: Final = "3.13"
BROKER_AMQPS_PORT: Final = 5671
BROKER_USER: Final = "exchange"

API_STAGE: Final = "live"
HEALTH_PATH: Final = "/v1/health"

# Every resource carries these tags (``stacks.composition`` sets them; a test checks each stack).
TAG_KEYS: Final = ("Project", "Environment", "Owner", "CostCenter", "Compliance")


def parameter_name(environment: str, *parts: str) -> str:
    """The SSM parameter path of a value other stacks and regions look up."""
    return "/".join(("", PROJECT, environment, *parts))
