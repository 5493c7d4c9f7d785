"""What a service asks AWS KMS for on the caller's behalf (``key_requirements``) when the resource
is encrypted with a customer managed key: Secrets Manager decrypts a secret's value
with ``kms:Decrypt`` ("Secret encryption and decryption in AWS Secrets Manager"); Kinesis
producers need ``kms:GenerateDataKey`` and consumers ``kms:Decrypt`` ("Permissions to use
user-generated KMS keys"); S3 uploads need ``kms:GenerateDataKey`` and downloads ``kms:Decrypt``
("Using server-side encryption with AWS KMS keys"); DynamoDB decrypts the table key for each
caller with ``kms:Decrypt`` ("How Amazon DynamoDB uses AWS KMS", table key caching); an SQS
producer needs ``kms:GenerateDataKey`` and ``kms:Decrypt``, a consumer ``kms:Decrypt``, with the
queue's ARN as encryption context ``aws:sqs:arn`` ("Amazon SQS key management"); a publisher to
an encrypted SNS topic needs ``kms:GenerateDataKey`` and ``kms:Decrypt`` ("Amazon SNS data
encryption: key management"; no encryption context condition is documented for SNS, so none is
asserted here).
"""

from collections.abc import Mapping
from typing import Final

from tests.fidelity.calls import Requirement

_DYNAMODB_DATA: Final = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
    }
)
_KEY_ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "kinesis:PutRecord": ("kms:GenerateDataKey",),
    "kinesis:PutRecords": ("kms:GenerateDataKey",),
    "kinesis:GetRecords": ("kms:Decrypt",),
    "s3:PutObject": ("kms:GenerateDataKey",),
    "s3:GetObject": ("kms:Decrypt",),
    "s3:GetObjectVersion": ("kms:Decrypt",),
    "secretsmanager:GetSecretValue": ("kms:Decrypt",),
    "secretsmanager:PutSecretValue": ("kms:GenerateDataKey",),
    "secretsmanager:CreateSecret": ("kms:GenerateDataKey",),
    "sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"),
    "sqs:ReceiveMessage": ("kms:Decrypt",),
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    **dict.fromkeys(_DYNAMODB_DATA, ("kms:Decrypt",)),
}


def key_requirements(
    requirement: Requirement, *, key_arn: str, region: str, account: str, encrypted: str
) -> list[Requirement]:
    """The KMS request ``requirement``'s service makes with the caller's permissions when the
    resource (``encrypted``: the table, stream, bucket or secret's ARN) is under ``key_arn``."""
    actions = _KEY_ACTIONS.get(requirement.action, ())
    service = requirement.action.split(":")[0]
    context = {"kms:ViaService": f"{service}.{region}.amazonaws.com", "kms:CallerAccount": account}
    encryption_context = {
        "kinesis": "kms:EncryptionContext:aws:kinesis:arn",
        "s3": "kms:EncryptionContext:aws:s3:arn",
        "secretsmanager": "kms:EncryptionContext:SecretARN",
        "sqs": "kms:EncryptionContext:aws:sqs:arn",
    }.get(service)
    if encryption_context is not None:
        context[encryption_context] = encrypted
    return [Requirement(action, key_arn, context) for action in actions]
