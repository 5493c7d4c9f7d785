"""Tables of programmatic access: API keys and their rate-limit counters.

- api_keys: pk ``key_id`` (``ak_...``, public; the secret is never stored in the clear, only
  encrypted under the API-key KMS key with the key id and account as encryption context). GSI
  ``by_account`` (pk ``account_id``, sk ``created_ns``) lists an account's keys.
- rate_limits: pk ``bucket`` (``<key id>#<window start, unix seconds>``): a fixed-window counter
  per key, one conditional ``ADD`` per request, expiring by TTL shortly after its window.
"""

from pynamodb.attributes import (
    BinaryAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from exchange.tables.base import _Meta, _Table


class ApiKeysByAccount(GlobalSecondaryIndex["ApiKeyRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_account"
        projection = AllProjection()

    account_id = UnicodeAttribute(hash_key=True)
    created_ns = NumberAttribute(range_key=True)


class ApiKeyRecord(_Table):
    logical_name = "api_keys"

    class Meta(_Meta):
        pass

    key_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute()
    username = UnicodeAttribute(null=True)
    label = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    allowed_ips = ListAttribute(of=UnicodeAttribute, null=True)
    # KMS ciphertext of the secret (encryption context: key_id and account_id).
    secret_ciphertext = BinaryAttribute(legacy_encoding=False)
    rate_limit_per_second = NumberAttribute()
    created_ns = NumberAttribute()
    expires_ns = NumberAttribute(null=True)
    revoked_ns = NumberAttribute(null=True)
    last_used_ns = NumberAttribute(null=True)

    by_account = ApiKeysByAccount()


class RateLimitRecord(_Table):
    logical_name = "rate_limits"
    ttl_attribute = "expires_at"

    class Meta(_Meta):
        pass

    bucket = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
