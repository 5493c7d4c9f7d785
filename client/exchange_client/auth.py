"""Cognito sign-in (``USER_PASSWORD_AUTH``) and token refresh, through boto3's ``cognito-idp``.

The API takes the **access token** (the WebSocket API too, as ``?token=``). Tokens are refreshed
with the refresh token a minute before they expire. Locally, ``endpoint_url`` is the stack's
moto server; in AWS it is None.

>>> tokens = Tokens(access_token="a", id_token="i", refresh_token="r", expires_at=0.0)
>>> tokens.expired(now=1.0)
True
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from exchange_client.errors import AuthError

_EARLY_S = 60.0


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    id_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at - _EARLY_S


class CognitoAuth:
    def __init__(
        self,
        *,
        app_client_id: str,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        self._app_client_id = app_client_id
        self._client = client or boto3.client(
            "cognito-idp",
            region_name=region,
            endpoint_url=endpoint_url,
            # Sign-in and sign-up are unauthenticated calls; locally moto wants some credentials.
            aws_access_key_id="anonymous" if endpoint_url else None,
            aws_secret_access_key="anonymous" if endpoint_url else None,
        )
        self.tokens: Tokens | None = None
        self._lock = asyncio.Lock()

    def close(self) -> None:
        """Close the Cognito client's connections (its HTTP pool)."""
        close = getattr(self._client, "close", None)
        if callable(close):
            close()

    def sign_in(self, username: str, password: str) -> Tokens:
        result = self._call(
            "initiate_auth",
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        self.tokens = self._tokens(result, refresh_token=None)
        return self.tokens

    def refresh(self) -> Tokens:
        if self.tokens is None or not self.tokens.refresh_token:
            raise AuthError("not signed in")
        result = self._call(
            "initiate_auth",
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": self.tokens.refresh_token},
        )
        self.tokens = self._tokens(result, refresh_token=self.tokens.refresh_token)
        return self.tokens

    def sign_up(self, email: str, password: str) -> str:
        """Register a user; returns its ``sub`` (the account id). The user confirms it with the
        emailed code (``confirm_sign_up``), or an operator does."""
        result = self._call(
            "sign_up",
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        return str(result["UserSub"])

    def confirm_sign_up(self, email: str, code: str) -> None:
        """Confirm a sign-up with the code Cognito sent to ``email``; the exchange then opens
        the account (KYC pending) before this returns."""
        self._call("confirm_sign_up", Username=email, ConfirmationCode=code)

    async def access_token(self) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        async with self._lock:
            if self.tokens is None:
                raise AuthError("not signed in")
            if self.tokens.expired():
                await asyncio.to_thread(self.refresh)
            return self.tokens.access_token

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._client, operation)(
                ClientId=self._app_client_id, **kwargs
            )
        except ClientError as exc:
            raise AuthError(exc.response.get("Error", {}).get("Message", str(exc))) from exc
        except BotoCoreError as exc:
            raise AuthError(f"Cognito unreachable: {exc}") from exc
        return result

    @staticmethod
    def _tokens(result: dict[str, Any], *, refresh_token: str | None) -> Tokens:
        auth = result.get("AuthenticationResult")
        if not auth:
            raise AuthError(f"sign-in needs a challenge: {result.get('ChallengeName')}")
        return Tokens(
            access_token=auth["AccessToken"],
            id_token=auth["IdToken"],
            refresh_token=auth.get("RefreshToken") or refresh_token,
            expires_at=time.time() + int(auth.get("ExpiresIn", 3600)),
        )
