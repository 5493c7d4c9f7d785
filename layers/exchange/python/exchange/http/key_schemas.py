"""Request and response bodies of ``/v1/api-keys`` (pydantic; the OpenAPI document is built from
them). Times are RFC 3339 in UTC; a request body forbids unknown fields."""

import datetime as dt
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from exchange.apikeys.errors import InvalidApiKeyRequest
from exchange.apikeys.model import MAX_ALLOWED_NETWORKS, MAX_LABEL_LENGTH, ApiKey, networks_of
from exchange.apikeys.scopes import KeyScope

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


class CreateApiKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH, examples=["mm-bot"])]
    scopes: Annotated[
        list[KeyScope],
        Field(
            min_length=1,
            max_length=3,
            description="What the key may do: read (orders, fills, balances), trade (place, "
            "amend, cancel), withdraw",
            examples=[["read", "trade"]],
        ),
    ]
    allowed_ips: Annotated[
        list[Annotated[str, Field(max_length=64)]] | None,
        Field(
            max_length=MAX_ALLOWED_NETWORKS,
            description="Addresses or CIDR blocks the key may be used from; omitted: any "
            "(required with the withdraw scope)",
            examples=[["203.0.113.0/24", "2001:db8::1"]],
        ),
    ] = None
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (in the future); omitted: never"
    )
    rate_limit_per_second: int | None = Field(
        default=None,
        ge=1,
        description="Requests per second the key may make, up to the deployment's default "
        "(which a key without one gets)",
    )

    @field_validator("allowed_ips")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        try:
            return list(networks_of(value))
        except InvalidApiKeyRequest as exc:
            raise ValueError(str(exc)) from exc

    def expires_ns(self) -> int | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - _EPOCH) // _MICROSECOND * 1000


class ApiKeyOut(BaseModel):
    """A key as its owner sees it: never its secret."""

    key_id: str = Field(description="Credential= in a signed request's Authorization header")
    label: str
    scopes: list[KeyScope]
    allowed_ips: list[str] | None = Field(description="None: usable from any address")
    rate_limit_per_second: int
    status: Literal["active", "expired", "revoked"]
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @classmethod
    def of(cls, key: ApiKey, *, now_ns: int) -> "ApiKeyOut":
        status: Literal["active", "expired", "revoked"] = "active"
        if key.revoked_ns is not None:
            status = "revoked"
        elif key.expired(now_ns):
            status = "expired"
        return cls(
            key_id=key.key_id,
            label=key.label,
            scopes=list(key.scopes),
            allowed_ips=None if key.allowed_ips is None else list(key.allowed_ips),
            rate_limit_per_second=key.rate_limit_per_second,
            status=status,
            created_at=_time(key.created_ns),
            expires_at=None if key.expires_ns is None else _time(key.expires_ns),
            revoked_at=None if key.revoked_ns is None else _time(key.revoked_ns),
        )


class ApiKeyCreated(ApiKeyOut):
    secret: str = Field(
        description="The key's secret, shown this once: store it now. Sign requests with it "
        "(HMAC-SHA256); it is never shown or sent again"
    )

    @classmethod
    def made(cls, key: ApiKey, secret: str, *, now_ns: int) -> "ApiKeyCreated":
        return cls(**ApiKeyOut.of(key, now_ns=now_ns).model_dump(), secret=secret)


class ApiKeyList(BaseModel):
    keys: list[ApiKeyOut] = Field(description="Newest first, revoked keys included")


def _time(ns: int) -> dt.datetime:
    return _EPOCH + ns // 1000 * _MICROSECOND
