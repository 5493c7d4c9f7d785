"""Test doubles of the API-key ports (store, cipher, rate limiter) with the real ones' rules, and
the events of the REST Lambda authorizer: the REQUEST event API Gateway sends it, and the proxy
event the integration then gets, with the authorizer's context.

>>> event = rest_authorizer_event("GET", "/v1/orders", resource="/v1/orders",
...                               headers={"Authorization": "x"}, query={"limit": ["5"]})
>>> event["type"], event["methodArn"].rsplit(":", 1)[1]
('REQUEST', 'local/prod/GET/v1/orders')
>>> event["queryStringParameters"], event["requestContext"]["identity"]["sourceIp"]
({'limit': '5'}, '127.0.0.1')
"""

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from exchange.apikeys.audit import SecurityEvent, next_entry
from exchange.apikeys.errors import KeyRejected
from exchange.apikeys.limiter import Verdict, bucket, retry_after_seconds
from exchange.apikeys.model import ApiKey
from exchange.journal.audit import AuditEntry, AuditLink
from exchange.orders.errors import StoreUnavailable
from exchange.testing.lambda_events import ACCOUNT_ID, API_ID, REGION

STAGE = "prod"


class InMemoryApiKeyStore:
    """``ApiKeyStore`` on dicts: a key and its audit entry are written together or not at all."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.logs: dict[str, list[AuditEntry]] = {}
        self.reads = 0

    def get(self, key_id: str) -> ApiKey | None:
        self.reads += 1
        return self.keys.get(key_id)

    def list_keys(self, account_id: str) -> list[ApiKey]:
        mine = [key for key in self.keys.values() if key.account_id == account_id]
        return sorted(mine, key=lambda key: key.created_ns, reverse=True)

    def create(self, key: ApiKey, event: SecurityEvent, *, now_ns: int) -> AuditEntry:
        if key.key_id in self.keys:
            raise StoreUnavailable(f"API key id {key.key_id} exists already")
        entry = self._append(event, now_ns)
        self.keys[key.key_id] = key
        return entry

    def revoke(self, key: ApiKey, *, revoked_ns: int, event: SecurityEvent) -> AuditEntry | None:
        current = self.keys.get(key.key_id)
        if current is None or current.revoked_ns is not None:
            return None
        if current.account_id != key.account_id:
            return None
        entry = self._append(event, revoked_ns)
        self.keys[key.key_id] = replace(current, revoked_ns=revoked_ns)
        return entry

    def security_log(self, account_id: str) -> list[AuditEntry]:
        return list(self.logs.get(account_id, []))

    def _append(self, event: SecurityEvent, now_ns: int) -> AuditEntry:
        log = self.logs.setdefault(event.account_id, [])
        head = AuditLink(log[-1].seq, log[-1].hash) if log else None
        entry = next_entry(head, event, now_ns=now_ns)
        log.append(entry)
        return entry


class FakeCipher:
    """Reversible and bound to its encryption context, as KMS is: a ciphertext opens only under
    the context it was made with. Counts decryptions (the verifier caches secrets)."""

    def __init__(self) -> None:
        self.decryptions = 0

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        header = json.dumps(dict(context), sort_keys=True).encode()
        return header + b"\n" + bytes(reversed(plaintext))

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        self.decryptions += 1
        header, _, body = ciphertext.partition(b"\n")
        if header != json.dumps(dict(context), sort_keys=True).encode():
            raise KeyRejected("the key's secret does not decrypt under its context")
        return bytes(reversed(body))


class InMemoryRateLimiter:
    """``RateLimiter`` on a dict, with the DynamoDB counter's fixed windows."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.used: set[tuple[str, str]] = set()

    def hit(self, key_id: str, limit: int, now_ms: int) -> Verdict:
        name = bucket(key_id, now_ms)
        if self.hits.get(name, 0) >= limit:
            return Verdict(allowed=False, retry_after_s=retry_after_seconds(now_ms))
        self.hits[name] = self.hits.get(name, 0) + 1
        return Verdict(allowed=True)

    def claim_once(self, key_id: str, signature: str, valid_until_ms: int) -> bool:
        if (key_id, signature) in self.used:
            return False
        self.used.add((key_id, signature))
        return True


def method_arn(method: str, path: str, *, stage: str = STAGE) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{stage}/{method}{path}"


def rest_authorizer_event(
    method: str,
    path: str,
    *,
    resource: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Sequence[str]] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = STAGE,
) -> dict[str, Any]:
    """The event of a REQUEST authorizer on a REST API method ("Input to an API Gateway Lambda
    authorizer"): the request's headers, query and path parameters, never its body."""
    multi_query = {name: list(values) for name, values in (query or {}).items()} or None
    return {
        "type": "REQUEST",
        "methodArn": method_arn(method, path, stage=stage),
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers or {}) or None,
        "multiValueHeaders": {name: [value] for name, value in (headers or {}).items()} or None,
        "queryStringParameters": {name: v[-1] for name, v in (multi_query or {}).items()} or None,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "resourceId": "local",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "apiKey": "", "userAgent": None},
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": API_ID,
            "requestTimeEpoch": time.time_ns() // 1_000_000,
        },
    }


def with_authorizer(event: dict[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``event`` (a proxy event) as its integration gets it after the authorizer's ``answer``:
    ``requestContext.authorizer`` holds the ``principalId`` and the context's values (API
    Gateway passes them on as strings, numbers or booleans)."""
    authorizer = {"principalId": answer["principalId"], "integrationLatency": 1}
    authorizer.update(answer.get("context") or {})
    context = dict(event["requestContext"])
    context["authorizer"] = authorizer
    return {**event, "requestContext": context}
