"""The KMS adapter on moto. AWS KMS binds the encryption context to the ciphertext as additional
authenticated data, so decryption needs the exact context used to encrypt ("Encryption context",
AWS KMS developer guide, https://docs.aws.amazon.com/kms/latest/developerguide/
encrypt_context.html); a mismatch is ``InvalidCiphertextException`` ("Decrypt", AWS KMS API
reference). Naming the KeyId on Decrypt pins the key: a ciphertext of another key is refused
("Decrypt": "When you use the KeyId parameter to specify a KMS key, AWS KMS only uses the KMS key
you specify")."""

import boto3
import pytest
from botocore.exceptions import ClientError

from exchange.apikeys.cipher import KmsCipher, encryption_context
from exchange.apikeys.errors import KeyRejected
from tests.integration.apikeys.conftest import REGION, Aws

SECRET = b"sk_" + b"s" * 43


def test_a_secret_round_trips_under_its_context(aws: Aws) -> None:
    cipher = KmsCipher.from_settings(aws.settings)
    context = encryption_context("ak_1", "alice")
    ciphertext = cipher.encrypt(SECRET, context)
    assert SECRET not in ciphertext
    assert cipher.decrypt(ciphertext, context) == SECRET


@pytest.mark.parametrize(
    "context",
    [
        encryption_context("ak_2", "alice"),  # another key's item
        encryption_context("ak_1", "mallory"),  # another account's
        {},
    ],
)
def test_a_secret_does_not_open_under_another_context(aws: Aws, context: dict[str, str]) -> None:
    cipher = KmsCipher.from_settings(aws.settings)
    ciphertext = cipher.encrypt(SECRET, encryption_context("ak_1", "alice"))
    with pytest.raises(KeyRejected):
        cipher.decrypt(ciphertext, context)


def test_a_ciphertext_of_another_kms_key_is_refused_as_our_failure(aws: Aws) -> None:
    other = aws.kms.create_key()["KeyMetadata"]["KeyId"]
    foreign = KmsCipher(other, lambda: boto3.client("kms", region_name=REGION))
    ciphertext = foreign.encrypt(SECRET, encryption_context("ak_1", "alice"))
    with pytest.raises(ClientError):  # not the caller's fault: a 500, not a 401
        KmsCipher.from_settings(aws.settings).decrypt(
            ciphertext, encryption_context("ak_1", "alice")
        )
