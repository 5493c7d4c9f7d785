"""The HTTPS adapter of the payment provider: signed requests, one idempotency key across
retries, backoff with jitter that honours Retry-After, refusals told apart from outages."""

import itertools
import json
from collections.abc import Callable

import pytest

from exchange.domain.errors import ConfigurationError
from exchange.ledger.webhooks import SIGNATURE_HEADER, verify_signature
from exchange.payouts.provider import (
    HttpPayoutProvider,
    PayoutRefused,
    ProviderAnswer,
    ProviderUnavailable,
    retry_after_seconds,
)
from tests.unit.payouts.fakes import ScriptedConnections, ScriptedResponse, order, timeout

SECRET = b"provider-api-secret"
NOW = 1_700_000_000.0


def provider(
    connections: ScriptedConnections,
    *,
    retries: int = 3,
    sleeps: list[float] | None = None,
    jitter: Callable[[float, float], float] = lambda low, high: high,
    retried: list[str] | None = None,
) -> HttpPayoutProvider:
    waits = sleeps if sleeps is not None else []
    return HttpPayoutProvider(
        "https://payouts.example/api",
        lambda: SECRET,
        retries=retries,
        sleep=waits.append,
        clock=lambda: NOW,
        jitter=jitter,
        on_retry=None if retried is None else retried.append,
        connect=connections,
    )


def test_a_payout_is_posted_signed_with_the_withdrawal_id_as_idempotency_key() -> None:
    # Given a provider that accepts the payout
    connections = ScriptedConnections(ScriptedResponse(202, b'{"id":"po_9","status":"PENDING"}'))

    # When the adapter sends it
    answer = provider(connections).send(order("wd-42", amount="25.50", address="DE89"))

    # Then the answer is read, and the request carried the key, a valid signature and the body
    assert answer == ProviderAnswer("po_9", "PENDING")
    (sent,) = connections.sent
    assert (sent.method, sent.url) == ("POST", "/api/v1/payouts")
    assert sent.headers["Idempotency-Key"] == "wd-42"
    assert verify_signature(
        sent.body, sent.headers[SIGNATURE_HEADER], secrets=[SECRET], now=int(NOW)
    ) == int(NOW)
    assert json.loads(sent.body) == {
        "payout_id": "wd-42",
        "asset": "USD",
        "amount": "25.50",
        "destination": {"kind": "BANK", "address": "DE89"},
        "reference": "exchange withdrawal wd-42",
    }


def test_retries_after_timeouts_and_5xx_reuse_the_same_key_and_body() -> None:
    # Given a provider that times out, then answers 503, then accepts
    connections = ScriptedConnections(
        timeout(), ScriptedResponse(503, b"busy"), ScriptedResponse(202)
    )
    retried: list[str] = []

    # When the adapter sends once
    answer = provider(connections, retried=retried).send(order("wd-7"))

    # Then three requests went out, every one with the same key and the same bytes
    assert answer.status == "PENDING"
    assert [s.headers["Idempotency-Key"] for s in connections.sent] == ["wd-7"] * 3
    assert len({s.body for s in connections.sent}) == 1
    assert len(retried) == 2


def test_backoff_grows_exponentially_and_is_capped() -> None:
    # Given a provider that never answers, and a jitter that always takes the top of its range
    connections = ScriptedConnections(*[timeout() for _ in range(6)])
    sleeps: list[float] = []
    adapter = HttpPayoutProvider(
        "https://payouts.example",
        lambda: SECRET,
        retries=5,
        backoff_base=0.5,
        backoff_cap=3.0,
        sleep=sleeps.append,
        jitter=lambda low, high: high,
        connect=connections,
    )

    # When it sends, then Then: 0.5, 1, 2, then capped at 3, and the send is unavailable
    with pytest.raises(ProviderUnavailable, match="6 attempts"):
        adapter.send(order())
    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_full_jitter_draws_each_wait_between_zero_and_the_backoff() -> None:
    # Given a jitter that records the range it is asked for
    ranges: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        ranges.append((low, high))
        return low

    connections = ScriptedConnections(timeout(), timeout(), ScriptedResponse(202))

    # When the adapter retries twice
    provider(connections, jitter=jitter).send(order())

    # Then each wait was drawn from [0, base * 2**n]
    assert ranges == [(0.0, 0.5), (0.0, 1.0)]


def test_a_429_with_retry_after_waits_at_least_as_long_as_asked() -> None:
    # Given a provider that throttles with Retry-After: 4, then accepts
    connections = ScriptedConnections(
        ScriptedResponse(429, b"slow down", {"Retry-After": "4"}), ScriptedResponse(202)
    )
    sleeps: list[float] = []

    # When the adapter sends
    provider(connections, sleeps=sleeps).send(order())

    # Then it waited the 4 s asked for, not its own 0.5 s backoff
    assert sleeps == [4.0]
    assert len(connections.sent) == 2


def test_a_retry_after_beyond_the_limit_ends_the_send_as_unavailable() -> None:
    # Given a provider that asks to come back in two minutes
    connections = ScriptedConnections(ScriptedResponse(503, b"", {"Retry-After": "120"}))
    sleeps: list[float] = []

    # When the adapter sends, Then it gives up at once: SQS brings the message back later
    with pytest.raises(ProviderUnavailable, match="wait 120 s"):
        provider(connections, sleeps=sleeps).send(order())
    assert sleeps == []
    assert len(connections.sent) == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7", now=0.0) == 7.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=50.0) == 10.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", now=100.0) == 0.0
    assert retry_after_seconds("soon", now=0.0) is None
    assert retry_after_seconds(None, now=0.0) is None


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried(status: int) -> None:
    connections = ScriptedConnections(ScriptedResponse(status, b"{}"), ScriptedResponse(202))
    assert provider(connections).send(order()).status == "PENDING"
    assert len(connections.sent) == 2


@pytest.mark.parametrize("status", [400, 422])
def test_a_permanent_4xx_refuses_the_payout_without_a_retry(status: int) -> None:
    # Given a provider that refuses the destination
    body = b'{"code":"invalid_destination","message":"IBAN checksum"}'
    connections = ScriptedConnections(ScriptedResponse(status, body))

    # When the adapter sends, Then PayoutRefused carries the status and the provider's reason
    with pytest.raises(PayoutRefused) as refused:
        provider(connections).send(order())
    assert refused.value.status == status
    assert refused.value.reason == "invalid_destination: IBAN checksum"
    assert len(connections.sent) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 405, 407, 410, 415])
def test_our_rejected_credentials_are_unavailable_not_refused(status: int) -> None:
    # A bad API secret, URL or proxy is ours to fix: the user's withdrawal must not fail for it,
    # and a proxy's 404 after a timed-out attempt must not release a hold that was paid out.
    connections = ScriptedConnections(ScriptedResponse(status, b"{}"))
    with pytest.raises(ProviderUnavailable, match="check the key"):
        provider(connections).send(order())
    assert len(connections.sent) == 1


def test_exhausted_retries_raise_provider_unavailable() -> None:
    connections = ScriptedConnections(*[ScriptedResponse(502, b"") for _ in range(3)])
    with pytest.raises(ProviderUnavailable, match="3 attempts"):
        provider(connections, retries=2).send(order())
    assert len(connections.sent) == 3


def test_an_unreadable_2xx_answer_is_asked_again_with_the_same_key() -> None:
    # The provider may have accepted it: asking again with the key reads the same payout.
    connections = ScriptedConnections(
        ScriptedResponse(200, b"<html>"),
        ScriptedResponse(200, b'{"id":"po_1","status":"COMPLETED"}'),
    )
    assert provider(connections).send(order()) == ProviderAnswer("po_1", "COMPLETED")
    assert len(connections.sent) == 2


def test_a_final_answer_with_a_reason_is_read() -> None:
    body = b'{"id":"po_2","status":"FAILED","reason":"account closed"}'
    connections = ScriptedConnections(ScriptedResponse(201, body))
    assert provider(connections).send(order()) == ProviderAnswer("po_2", "FAILED", "account closed")


def test_each_attempt_is_signed_afresh_over_the_same_body() -> None:
    # Given a clock that moves between attempts
    times = itertools.count(NOW, 30)
    connections = ScriptedConnections(timeout(), ScriptedResponse(202))
    adapter = HttpPayoutProvider(
        "https://payouts.example",
        lambda: SECRET,
        sleep=lambda _: None,
        clock=lambda: next(times),
        connect=connections,
    )

    # When it retries, Then the second signature has the later timestamp and still verifies
    adapter.send(order())
    first, second = (s.headers[SIGNATURE_HEADER] for s in connections.sent)
    assert first.startswith(f"t={int(NOW)},")
    assert second.startswith(f"t={int(NOW) + 30},")
    assert (
        verify_signature(connections.sent[1].body, second, secrets=[SECRET], now=int(NOW) + 30)
        == int(NOW) + 30
    )


@pytest.mark.parametrize(
    "url", ["http://payouts.example", "ftp://payouts.example", "https://", "payouts.example"]
)
def test_only_https_is_accepted_except_on_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError):
        HttpPayoutProvider(url, lambda: SECRET)


def test_plain_http_is_accepted_on_loopback_for_local_mode() -> None:
    HttpPayoutProvider("http://127.0.0.1:8765", lambda: SECRET)
