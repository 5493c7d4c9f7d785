"""Where API-key secrets are encrypted: a port, and its KMS adapter.

A secret is encrypted under the deployment's API-key KMS key with the encryption context
``{"key_id": ..., "account_id": ...}`` and decrypted with the same context and key id. KMS binds
the context to the ciphertext as additional authenticated data, so a ciphertext copied onto
another key's item (or another account's) does not decrypt: "Encryption context", AWS KMS
developer guide. The api_keys function may only Encrypt, the authorizers only Decrypt.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from exchange.apikeys.errors import KeyRejected
from exchange.aws import AwsLocation, aws_client
from exchange.domain.errors import ConfigurationError

_INVALID_CIPHERTEXT: Final = "InvalidCiphertextException"


class SecretCipher(Protocol):
    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        """The plaintext; KeyRejected when the ciphertext does not open under ``context``."""
        ...


def encryption_context(key_id: str, account_id: str) -> dict[str, str]:
    return {"key_id": key_id, "account_id": account_id}


class KmsSettings(AwsLocation, Protocol):
    @property
    def api_key_kms_key_id(self) -> str | None: ...


class KmsCipher:
    """KMS ``Encrypt``/``Decrypt`` (symmetric key). The client is built at first use, so a
    function that never meets an API key never loads it."""

    def __init__(self, key_id: str | None, client_factory: Callable[[], Any]) -> None:
        self._key_id = key_id
        self._factory = client_factory
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: KmsSettings) -> "KmsCipher":
        return cls(settings.api_key_kms_key_id, lambda: aws_client("kms", settings))

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        response = self._kms().encrypt(
            KeyId=self._key(), Plaintext=plaintext, EncryptionContext=dict(context)
        )
        return bytes(response["CiphertextBlob"])

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        from botocore.exceptions import ClientError  # noqa: PLC0415 - with the client

        try:
            response = self._kms().decrypt(
                CiphertextBlob=ciphertext, KeyId=self._key(), EncryptionContext=dict(context)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _INVALID_CIPHERTEXT:
                raise  # throttling, an outage, a denied key: ours, not the caller's
            raise KeyRejected("the key's secret does not decrypt under its context") from exc
        return bytes(response["Plaintext"])

    def _key(self) -> str:
        if not self._key_id:
            raise ConfigurationError("EXCHANGE_API_KEY_KMS_KEY_ID is not set")
        return self._key_id

    def _kms(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client
