"""The kyc function through API Gateway proxy events (a public route: no authorizer, HMAC-signed),
over an in-memory registry with the ledger's rules."""

import json
import time
from typing import Any

import pytest

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.model import KycStatus
from exchange.ledger.verification import (
    KycDecision,
    KycOutcome,
    KycRegistry,
    KycResult,
    KycState,
    KycWebhookReceiver,
    supersedes,
)
from exchange.ledger.webhooks import SIGNATURE_HEADER, sign
from exchange.testing.lambda_events import LambdaContextStub, rest_event
from lambdas.catalog import FUNCTIONS
from lambdas.kyc.handler import APP, handler
from tests.unit.api.conftest import Reply

SECRET = b"kyc-unit"


class Registry(KycRegistry):
    def __init__(self, *accounts: str) -> None:
        self.states = {account: KycState(KycStatus.PENDING) for account in accounts}
        self.seen: set[str] = set()

    def decide(self, decision: KycDecision) -> KycOutcome:
        current = self.states.get(decision.account_id)
        if current is None:
            raise UnknownAccount(f"no user account {decision.account_id!r}")
        if decision.event_id in self.seen:
            return KycOutcome(decision.account_id, KycResult.DUPLICATE, current.status)
        if decision.event_id is not None:
            self.seen.add(decision.event_id)
        if not supersedes(decision, current):
            return KycOutcome(decision.account_id, KycResult.SUPERSEDED, current.status)
        self.states[decision.account_id] = KycState(
            decision.status, decision.source, decision.decided_at
        )
        return KycOutcome(decision.account_id, KycResult.APPLIED, decision.status)


def post(
    registry: Registry,
    payload: dict[str, Any] | bytes,
    *,
    secret: bytes = SECRET,
    signed_at: int | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = sign(raw, secret=secret, timestamp=signed_at or int(time.time()))
    event = rest_event(
        "POST",
        "/v1/webhooks/kyc",
        body=raw.decode(),
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            **(headers or {}),
        },
    )
    receiver = KycWebhookReceiver(registry=registry, secrets=lambda: [SECRET])
    return Reply.of(handler(event, LambdaContextStub(function_name="kyc"), receiver=receiver))


def verdict(
    kind: str = "kyc.verified", account: str = "a-1", event: str = "kyc-1"
) -> dict[str, Any]:
    return {"event_id": event, "type": kind, "account_id": account}


def test_the_route_is_the_catalogs_and_public() -> None:
    (route,) = FUNCTIONS["kyc"].routes
    assert (route.method, route.path, route.authorized) == ("POST", "/v1/webhooks/kyc", False)
    paths = APP.get_openapi_schema().paths or {}
    assert set(paths) == {"/v1/webhooks/kyc"}


def test_a_signed_verdict_verifies_the_account_once() -> None:
    registry = Registry("a-1")
    first = post(registry, verdict())
    again = post(registry, verdict())
    assert (first.status, first.body) == (
        200,
        {"status": "APPLIED", "account_id": "a-1", "kyc_status": "VERIFIED"},
    )
    assert again.body["status"] == "DUPLICATE"
    assert registry.states["a-1"].status is KycStatus.VERIFIED


@pytest.mark.parametrize(
    ("secret", "age", "code"),
    [(b"not-the-secret", 0, "invalid_signature"), (SECRET, 3600, "stale_webhook")],
)
def test_a_bad_or_stale_signature_is_a_401(secret: bytes, age: int, code: str) -> None:
    registry = Registry("a-1")
    reply = post(registry, verdict(), secret=secret, signed_at=int(time.time()) - age)
    assert (reply.status, reply.body["code"]) == (401, code)
    assert reply.is_problem
    assert registry.states["a-1"].status is KycStatus.PENDING


def test_a_missing_signature_is_a_401() -> None:
    event = rest_event("POST", "/v1/webhooks/kyc", body=verdict())
    receiver = KycWebhookReceiver(registry=Registry("a-1"), secrets=lambda: [SECRET])
    reply = Reply.of(handler(event, LambdaContextStub(), receiver=receiver))
    assert (reply.status, reply.body["code"]) == (401, "invalid_signature")


@pytest.mark.parametrize(
    "payload",
    [verdict(kind="kyc.pending"), b'{"event_id": "e", "type": "kyc.verified"}', b"[]"],
)
def test_a_malformed_verdict_is_a_400(payload: dict[str, Any] | bytes) -> None:
    reply = post(Registry("a-1"), payload)
    assert (reply.status, reply.body["code"]) == (400, "invalid_webhook")
    assert reply.is_problem


def test_an_unknown_account_is_a_404_problem() -> None:
    reply = post(Registry("a-1"), verdict(account="nobody"))
    assert (reply.status, reply.body["code"]) == (404, "unknown_account")
    assert reply.is_problem
    assert reply.headers["Content-Type"] == "application/problem+json"


def test_a_verdict_against_an_operators_decision_is_recorded_not_applied() -> None:
    registry = Registry("a-1")
    registry.states["a-1"] = KycState(KycStatus.SUSPENDED)
    reply = post(registry, verdict())
    assert reply.body == {"status": "SUPERSEDED", "account_id": "a-1", "kyc_status": "SUSPENDED"}


def test_a_non_json_body_is_a_415_before_any_signature_check() -> None:
    reply = post(Registry("a-1"), verdict(), headers={"Content-Type": "text/plain"})
    assert reply.status == 415
