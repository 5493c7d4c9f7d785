"""What each notice says by email: a subject and a plain-text body. Pure.

One sentence per event, from the notice's ``data`` (decimal strings, as the ledger and the
notifier wrote them), then every detail as ``key: value`` lines, so a field a template does not
name is still shown, and last the notice's reference (its ``notice_id``), which support and the
local mailbox read back (``reference_of``).

>>> email = render(Notice(notice_id="ledger#7", kind=NoticeKind.DEPOSIT,
...                       event="deposit.credited", account_id="a-1", at_ns=0,
...                       data={"asset": "USD", "amount": "25.00"}))
>>> email.subject
'Deposit credited: 25.00 USD'
>>> reference_of(email.body)
'ledger#7'
"""

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from exchange.notices import Notice, NoticeKind

REFERENCE_PREFIX: Final = "Reference: "
_REFERENCE: Final = re.compile(r"^Reference: (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    body: str


Line = Callable[[Mapping[str, str]], str]


def _amount(data: Mapping[str, str]) -> str:
    return f"{data.get('amount', '?')} {data.get('asset', '')}".strip()


# event -> (subject, sentence), both from the notice's data.
_TEMPLATES: Final[dict[str, tuple[Line, Line]]] = {
    "fill": (
        lambda d: (
            f"Order filled: {d.get('side', '').lower()} {d.get('qty', '?')} "
            f"{d.get('symbol', '')} at {d.get('price', '?')}"
        ),
        lambda d: (
            f"Your order {d.get('order_id', '')} was filled: {d.get('side', '').lower()} "
            f"{d.get('qty', '?')} {d.get('symbol', '')} at {d.get('price', '?')}."
        ),
    ),
    "deposit.credited": (
        lambda d: f"Deposit credited: {_amount(d)}",
        lambda d: f"{_amount(d)} was credited to your account.",
    ),
    "withdrawal.requested": (
        lambda d: f"Withdrawal requested: {_amount(d)}",
        lambda d: (
            f"We received your withdrawal of {_amount(d)}; the funds are held until it is sent."
        ),
    ),
    "withdrawal.completed": (
        lambda d: f"Withdrawal sent: {_amount(d)}",
        lambda d: f"Your withdrawal of {_amount(d)} was sent.",
    ),
    "withdrawal.failed": (
        lambda d: f"Withdrawal failed: {_amount(d)}",
        lambda d: f"Your withdrawal of {_amount(d)} failed and the funds are back in your balance.",
    ),
    "withdrawal.cancelled": (
        lambda d: f"Withdrawal cancelled: {_amount(d)}",
        lambda d: (
            f"Your withdrawal of {_amount(d)} was cancelled and the funds are back in your balance."
        ),
    ),
    "destination.added": (
        lambda d: "New withdrawal destination added",
        lambda d: (
            f"A withdrawal destination ({d.get('address', '')}) was added to your account; it "
            f"can be used from {d.get('usable_at', 'its confirmation')}. If this was not you, "
            "remove it and change your password now."
        ),
    ),
    "api_key.created": (
        lambda d: "New API key created",
        lambda d: (
            f"An API key ({d.get('label', '')}) was created on your account with the "
            f"scopes {d.get('scopes', '')}. If this was not you, revoke it and change your "
            "password now."
        ),
    ),
    "password.changed": (
        lambda d: "Your password was changed",
        lambda d: (
            "The password of your account was changed. If this was not you, reset it "
            "now and contact support."
        ),
    ),
}

_KIND_SUBJECT: Final = {
    NoticeKind.FILL: "Order filled",
    NoticeKind.DEPOSIT: "Deposit",
    NoticeKind.WITHDRAWAL: "Withdrawal",
    NoticeKind.SECURITY: "Security notice",
}


def render(notice: Notice) -> Email:
    """The email of ``notice`` (an event without a template gets its kind's subject)."""
    template = _TEMPLATES.get(notice.event)
    if template is None:
        subject = f"{_KIND_SUBJECT[notice.kind]}: {notice.event}"
        sentence = f"{notice.event} on your account."
    else:
        subject, sentence = template[0](notice.data), template[1](notice.data)
    when = dt.datetime.fromtimestamp(notice.at_ns // 10**9, tz=dt.UTC)
    lines = [
        sentence,
        "",
        f"When: {when:%Y-%m-%d %H:%M:%S} UTC",
        *(f"{key}: {value}" for key, value in sorted(notice.data.items())),
        "",
        f"{REFERENCE_PREFIX}{notice.notice_id}",
    ]
    return Email(subject=subject, body="\n".join(lines) + "\n")


def reference_of(body: str) -> str | None:
    """The notice id an email's body names (None for an email without one)."""
    match = _REFERENCE.search(body)
    return match.group(1) if match else None
