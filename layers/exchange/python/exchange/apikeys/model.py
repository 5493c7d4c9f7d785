"""An API key as stored, what a new key may be, and how ids and secrets are made.

A key id is ``ak_`` and 24 random letters and digits (public: it names the key in every signed
request). A secret is ``sk_`` and 43 URL-safe characters (``secrets.token_urlsafe(32)``: 256
random bits); it is shown once, in the creation's answer, and stored only as KMS ciphertext.

>>> key_id = new_key_id()
>>> key_id.startswith("ak_"), len(key_id)
(True, 27)
>>> secret = new_secret()
>>> secret.startswith("sk_"), len(secret)
(True, 46)
>>> scopes_of(["trade", "read", "read"])
('read', 'trade')
>>> networks_of(["10.0.0.0/24", "2001:db8::1"])
('10.0.0.0/24', '2001:db8::1/128')
"""

import ipaddress
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from exchange.apikeys.errors import InvalidApiKeyRequest
from exchange.apikeys.scopes import KEY_SCOPES, KeyScope

KEY_ID_PREFIX: Final = "ak_"
SECRET_PREFIX: Final = "sk_"  # noqa: S105 - a prefix, not a secret
KEY_ID_LENGTH: Final = 24
SECRET_BYTES: Final = 32
KEY_ID_PATTERN: Final = r"^ak_[A-Za-z0-9]{24}$"
MAX_LABEL_LENGTH: Final = 64
# An allow-list is a handful of a program's egress addresses, not a firewall.
MAX_ALLOWED_NETWORKS: Final = 16
_ALPHANUMERIC: Final = string.ascii_letters + string.digits


def new_key_id() -> str:
    return KEY_ID_PREFIX + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(KEY_ID_LENGTH))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as the ``api_keys`` table holds it; times in nanoseconds since the epoch."""

    key_id: str
    account_id: str
    username: str | None
    label: str
    scopes: tuple[KeyScope, ...]
    allowed_ips: tuple[str, ...] | None  # CIDRs; None: any address
    rate_limit_per_second: int
    created_ns: int
    expires_ns: int | None
    revoked_ns: int | None
    secret_ciphertext: bytes = field(repr=False)

    def expired(self, now_ns: int) -> bool:
        return self.expires_ns is not None and now_ns >= self.expires_ns

    def active(self, now_ns: int) -> bool:
        return self.revoked_ns is None and not self.expired(now_ns)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What the owner asks for; ``rate_limit_per_second`` None takes the deployment's default."""

    label: str
    scopes: tuple[str, ...]
    allowed_ips: tuple[str, ...] | None = None
    expires_ns: int | None = None
    rate_limit_per_second: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its secret: the only time the secret leaves the service in the clear."""

    key: ApiKey
    secret: str = field(repr=False)


def scopes_of(requested: Iterable[str]) -> tuple[KeyScope, ...]:
    """The requested scopes, each once, in ``KEY_SCOPES`` order; at least one, all known."""
    wanted = set(requested)
    unknown = sorted(wanted - set(KEY_SCOPES))
    if unknown:
        raise InvalidApiKeyRequest(f"unknown scopes {unknown}; a key's scopes are {KEY_SCOPES}")
    if not wanted:
        raise InvalidApiKeyRequest(f"a key needs at least one scope of {KEY_SCOPES}")
    return tuple(scope for scope in KEY_SCOPES if scope in wanted)


def networks_of(cidrs: Iterable[str]) -> tuple[str, ...]:
    """Each address or CIDR block, normalized (``1.2.3.4`` is ``1.2.3.4/32``). A block with host
    bits set (``10.0.0.1/24``) is refused: it reads as one address but would admit 256."""
    networks: list[str] = []
    for text in cidrs:
        try:
            network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            raise InvalidApiKeyRequest(f"{text[:64]!r} is not an IP address or CIDR block") from exc
        if str(network) not in networks:
            networks.append(str(network))
    if not networks:
        raise InvalidApiKeyRequest("allowed_ips, when given, lists at least one address")
    if len(networks) > MAX_ALLOWED_NETWORKS:
        raise InvalidApiKeyRequest(f"allowed_ips lists at most {MAX_ALLOWED_NETWORKS} blocks")
    return tuple(networks)


def ip_allowed(address: str, networks: Iterable[str] | None) -> bool:
    """Whether ``address`` is in one of ``networks`` (None: any address is)."""
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)
