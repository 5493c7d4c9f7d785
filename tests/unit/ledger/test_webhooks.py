"""Webhook signature verification: HMAC-SHA256 over the raw body, timestamp tolerance."""

import json

import pytest

from exchange.ledger import InvalidSignature, InvalidWebhook, StaleWebhook
from exchange.ledger.webhooks import sign, verify_deposit_webhook

SECRET = b"whsec_unit"
NOW = 1_800_000_000
BODY = json.dumps(
    {
        "event_id": "evt-1",
        "type": "deposit.succeeded",
        "deposit_id": "dep-1",
        "account_id": "acct-1",
        "asset": "USD",
        "amount": "100.50",
    }
).encode()


def verify(body: bytes, header: str | None, *, secrets: list[bytes] | None = None, now: int = NOW):
    return verify_deposit_webhook(body, header, secrets=secrets or [SECRET], now=now)


def test_good_signature_yields_the_deposit() -> None:
    # Given a body signed with the shared secret 200 s ago
    header = sign(BODY, secret=SECRET, timestamp=NOW - 200)
    # When it is verified
    notice = verify(BODY, header)
    # Then the deposit is read exactly
    assert (notice.event_id, notice.deposit_id, notice.account_id) == ("evt-1", "dep-1", "acct-1")
    assert str(notice.amount) == "100.50"
    assert notice.status == "CREDITED"
    assert notice.signed_at == NOW - 200


def test_one_changed_byte_breaks_the_signature() -> None:
    header = sign(BODY, secret=SECRET, timestamp=NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify(BODY.replace(b"100.50", b"900.50"), header)


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(InvalidSignature):
        verify(BODY, sign(BODY, secret=b"other", timestamp=NOW))


def test_signature_of_another_timestamp_is_refused() -> None:
    # Given a valid digest whose header timestamp was moved forward (to dodge staleness)
    digest = sign(BODY, secret=SECRET, timestamp=NOW - 1000).split("v1=")[1]
    with pytest.raises(InvalidSignature):
        verify(BODY, f"t={NOW},v1={digest}")


@pytest.mark.parametrize("offset", [-301, 301, -100_000])
def test_timestamp_outside_tolerance_is_stale(offset: int) -> None:
    with pytest.raises(StaleWebhook, match="tolerance is 300 s"):
        verify(BODY, sign(BODY, secret=SECRET, timestamp=NOW + offset))


def test_timestamp_at_the_tolerance_edge_is_accepted() -> None:
    assert verify(BODY, sign(BODY, secret=SECRET, timestamp=NOW - 300)).event_id == "evt-1"


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", f"t={NOW}", "v1=" + "0" * 64, f"t=abc,v1={'0' * 64}", "t=1,v1=short"],
)
def test_malformed_header_is_an_invalid_signature(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        verify(BODY, header)


def test_rotating_secrets_accept_either() -> None:
    # Given the provider signing with the new secret while we know old and new
    header = sign(BODY, secret=b"new", timestamp=NOW)
    assert verify(BODY, header, secrets=[b"old", b"new"]).deposit_id == "dep-1"


def test_signed_but_malformed_body_is_invalid_webhook() -> None:
    for body in (b"not json", b"[]", b'{"event_id": "e"}', BODY.replace(b'"100.50"', b"100.5")):
        with pytest.raises(InvalidWebhook):
            verify(body, sign(body, secret=SECRET, timestamp=NOW))


def test_failed_deposit_is_read_as_failed() -> None:
    body = BODY.replace(b"deposit.succeeded", b"deposit.failed")
    assert verify(body, sign(body, secret=SECRET, timestamp=NOW)).status == "FAILED"
