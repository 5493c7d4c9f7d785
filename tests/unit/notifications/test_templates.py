"""Each notice's email: a subject and a plain-text body with every detail and the reference."""

import pytest

from exchange.notices import Notice, NoticeKind
from exchange.notifications.templates import reference_of, render

EVENTS = [
    (NoticeKind.FILL, "fill", {"symbol": "BTC-USD", "side": "BUY", "qty": "0.5", "price": "100.00",
                               "order_id": "o-1"}, "Order filled: buy 0.5 BTC-USD at 100.00"),
    (NoticeKind.DEPOSIT, "deposit.credited", {"asset": "USD", "amount": "25.00"},
     "Deposit credited: 25.00 USD"),
    (NoticeKind.WITHDRAWAL, "withdrawal.requested", {"asset": "BTC", "amount": "0.1"},
     "Withdrawal requested: 0.1 BTC"),
    (NoticeKind.WITHDRAWAL, "withdrawal.completed", {"asset": "BTC", "amount": "0.1"},
     "Withdrawal sent: 0.1 BTC"),
    (NoticeKind.WITHDRAWAL, "withdrawal.failed", {"asset": "BTC", "amount": "0.1"},
     "Withdrawal failed: 0.1 BTC"),
    (NoticeKind.WITHDRAWAL, "withdrawal.cancelled", {"asset": "BTC", "amount": "0.1"},
     "Withdrawal cancelled: 0.1 BTC"),
    (NoticeKind.SECURITY, "destination.added", {"asset": "BTC"},
     "New withdrawal destination added"),
    (NoticeKind.SECURITY, "api_key.created", {"label": "bot", "scopes": "read"},
     "New API key created"),
    (NoticeKind.SECURITY, "password.changed", {"via": "ChangePassword"},
     "Your password was changed"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "event", "data", "subject"), EVENTS)
def test_each_event_has_its_subject_and_a_body_with_every_detail(
    kind: NoticeKind, event: str, data: dict[str, str], subject: str
) -> None:
    # Given a notice of the event
    notice = Notice(notice_id=f"n#{event}", kind=kind, event=event, account_id="alice",
                    at_ns=1_700_000_000 * 10**9, data=data)  # fmt: skip
    # When it is rendered
    email = render(notice)
    # Then the subject is the event's, every detail is in the body, and the reference reads back
    assert email.subject == subject
    for key, value in data.items():
        assert f"{key}: {value}" in email.body
    assert "When: 2023-11-14 22:13:20 UTC" in email.body
    assert reference_of(email.body) == f"n#{event}"


def test_an_event_without_a_template_gets_its_kinds_subject() -> None:
    notice = Notice(notice_id="x#1", kind=NoticeKind.WITHDRAWAL, event="withdrawal.delayed",
                    account_id="alice", at_ns=0)  # fmt: skip
    email = render(notice)
    assert email.subject == "Withdrawal: withdrawal.delayed"
    assert reference_of(email.body) == "x#1"


def test_a_body_without_a_reference_names_no_notice() -> None:
    assert reference_of("hello\nworld\n") is None
