"""The hosted Lambdas' environment in local mode: the values the local services and moto's
resources give each settings field, turned into every catalog function's variables by
``lambdas.environment.function_environment``, the function the CDK app uses.

All hosted functions share this process's environment, so it holds the union of their variables
(the same field has the same value for every function, so they never disagree). Powertools'
``POWERTOOLS_*`` variables are left out: they belong to the process, set by ``local.__main__``
before Powertools is imported (Powertools reads them at import), and ``POWERTOOLS_SERVICE_NAME``
differs between functions, which one process cannot hold. Every function logs as the process's
service (``exchange-local``), as before.

Besides the settings, the Lambda runtime's AWS credentials, which boto3 reads (moto takes any).
"""

from collections.abc import Mapping
from typing import Final

from lambdas.catalog import FUNCTIONS
from lambdas.environment import TABLE_FIELDS, function_environment
from local.aws import REGION, AwsResources
from local.gateway.events import STAGE

# In AWS, the Lambda runtime sets these itself; boto3 signs moto's requests with them.
RUNTIME_CREDENTIALS: Final[Mapping[str, str]] = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
}


def settings_values(
    aws: AwsResources,
    *,
    gateway_url: str,
    database_url: str,
    redis_url: str,
    broker_url: str | None,
) -> dict[str, str]:
    """Each settings field's value in local mode (``broker_url`` None: the in-process broker)."""
    values = {
        "environment": "local",
        "aws_region": REGION,
        "aws_endpoint_url": aws.endpoint_url,
        "database_url": database_url,
        "redis_url": redis_url,
        "ws_management_endpoint": f"{gateway_url}/{STAGE}",
        "user_pool_id": aws.user_pool_id,
        "app_client_id": aws.app_client_id,
        "issuer": aws.issuer,
        "jwks_url": aws.jwks_url,  # moto's, not Cognito's public one
        "ledger_webhook_secret_arn": aws.webhook_secret_arn,
        **{field: aws.table_names[logical] for field, logical in TABLE_FIELDS.items()},
    }
    if broker_url is not None:
        values["broker_url"] = broker_url
    return values


def lambda_environment(values: Mapping[str, str]) -> dict[str, str]:
    """The variables of every catalog function for ``values``, without Powertools' (see above),
    plus the runtime's credentials."""
    env = dict(RUNTIME_CREDENTIALS)
    for spec in FUNCTIONS.values():
        for variable, value in function_environment(spec, values).items():
            if variable.startswith("POWERTOOLS_"):
                continue
            if env.setdefault(variable, value) != value:
                raise ValueError(f"{variable} differs between functions")
    return env
