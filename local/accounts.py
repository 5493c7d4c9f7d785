"""Users and money in the local stack: what users, the KYC provider and the payment provider do in
production, done here by the stack for its demo accounts and by tests, through the same doors.

- ``register``: a Cognito sign-up (moto), as the client does; ``confirm``: the operator's
  ``AdminConfirmSignUp``. Confirming fires the user pool's post-confirmation trigger, which the
  local stack runs as Cognito would (``local.triggers``): the onboarding function opens the
  ledger account with KYC pending.
- ``signed_kyc``: the KYC provider's signed webhook for ``POST /v1/webhooks/kyc``.
- ``signed_deposit``: the payment provider's signed webhook for ``POST /v1/webhooks/deposits``.
- ``deposit``: credits through the ledger's own deposit path (``credit_deposit``), once per id:
  for seeding large demo balances quickly.
- ``make_operator``: what an administrator does in Cognito to let someone use ``/v1/admin``
  (``AdminAddUserToGroup`` into ``operators``). As in Cognito, tokens issued before carry no such
  group: the user signs in again (or refreshes) to get an access token whose ``cognito:groups``
  names it.
"""

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from psycopg_pool import ConnectionPool

from exchange.domain import InstrumentCatalog
from exchange.ledger import DepositNotice
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import SIGNATURE_HEADER, sign
from exchange.settings import DEFAULT_ASSET_SCALES, OPERATORS_GROUP

DEMO_PASSWORD: Final = "Exchange-demo-1"  # noqa: S105 - a published local demo credential
DEMO_FUNDS: Final = {
    "USD": Decimal("1000000"),
    "BTC": Decimal("10"),
    "ETH": Decimal("100"),
    "SOL": Decimal("5000"),
}


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    password: str
    account_id: str


def ledger_for(pool: ConnectionPool, fee_account_id: str = "fees") -> PostgresLedger:
    return PostgresLedger(
        pool,
        instruments=InstrumentCatalog.demo(),
        asset_scales=DEFAULT_ASSET_SCALES,
        fee_account_id=fee_account_id,
    )


def register(cognito: Any, app_client_id: str, email: str, password: str) -> str:
    """A self sign-up (unconfirmed); returns the user's ``sub``, the account id."""
    answer = cognito.sign_up(
        ClientId=app_client_id,
        Username=email,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    return str(answer["UserSub"])


def confirm(cognito: Any, user_pool_id: str, email: str) -> None:
    """The operator confirms the sign-up; the post-confirmation trigger opens the account."""
    cognito.admin_confirm_sign_up(UserPoolId=user_pool_id, Username=email)


def account_id_of(cognito: Any, user_pool_id: str, email: str) -> str:
    attributes = cognito.admin_get_user(UserPoolId=user_pool_id, Username=email)["UserAttributes"]
    return str(next(a["Value"] for a in attributes if a["Name"] == "sub"))


def make_operator(cognito: Any, user_pool_id: str, username: str) -> list[str]:
    """Put ``username`` (the email) in the operators group; returns the user's groups."""
    cognito.admin_add_user_to_group(
        UserPoolId=user_pool_id, Username=username, GroupName=OPERATORS_GROUP
    )
    groups = cognito.admin_list_groups_for_user(UserPoolId=user_pool_id, Username=username)
    return sorted(str(group["GroupName"]) for group in groups["Groups"])


def deposit(ledger: PostgresLedger, account_id: str, asset: str, amount: Decimal) -> None:
    deposit_id = f"dep-{uuid.uuid4().hex}"
    ledger.credit_deposit(
        DepositNotice(
            event_id=f"evt-{deposit_id}",
            deposit_id=deposit_id,
            account_id=account_id,
            asset=asset,
            amount=amount,
            status="CREDITED",
            signed_at=int(time.time()),
        )
    )


def _signed(secret: str, payload: dict[str, str], now: int | None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    header = sign(body, secret=secret.encode(), timestamp=now or int(time.time()))
    return body, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


def signed_deposit(
    secret: str, account_id: str, asset: str, amount: Decimal, *, now: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The payment provider's webhook: raw body and headers for ``POST /v1/webhooks/deposits``."""
    deposit_id = f"dep-{uuid.uuid4().hex}"
    payload = {
        "event_id": f"evt-{deposit_id}",
        "type": "deposit.succeeded",
        "deposit_id": deposit_id,
        "account_id": account_id,
        "asset": asset,
        "amount": str(amount),
    }
    return _signed(secret, payload, now)


def signed_payout(
    secret: str,
    withdrawal_id: str,
    asset: str,
    amount: Decimal,
    *,
    completed: bool = True,
    provider_reference: str = "po_local",
    now: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The payment provider's payout webhook: raw body and headers for
    ``POST /v1/webhooks/payouts`` (what ``local.provider`` sends; tests forge or replay it)."""
    payload = {
        "event_id": f"evt-{uuid.uuid4().hex}",
        "type": "payout.completed" if completed else "payout.failed",
        "withdrawal_id": withdrawal_id,
        "provider_reference": provider_reference,
        "asset": asset,
        "amount": str(amount),
    }
    if not completed:
        payload["reason"] = "refused by the destination's bank"
    return _signed(secret, payload, now)


def signed_kyc(
    secret: str, account_id: str, *, verified: bool = True, now: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The KYC provider's webhook: raw body and headers for ``POST /v1/webhooks/kyc``."""
    payload = {
        "event_id": f"kyc-{uuid.uuid4().hex}",
        "type": "kyc.verified" if verified else "kyc.rejected",
        "account_id": account_id,
    }
    return _signed(secret, payload, now)


def post(api_url: str, path: str, signed: tuple[bytes, dict[str, str]]) -> dict[str, Any]:
    """POST a provider's signed webhook to the gateway; raises on anything but 2xx."""
    body, headers = signed
    request = urllib.request.Request(  # noqa: S310 - the local gateway's own http URL
        f"{api_url}{path}", data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        answer_body = answer.read()
    parsed: dict[str, Any] = json.loads(answer_body) if answer_body else {}
    return parsed


def onboard(
    cognito: Any,
    *,
    user_pool_id: str,
    app_client_id: str,
    api_url: str,
    kyc_secret: str,
    email: str,
    password: str,
) -> str:
    """Sign up, confirm (the trigger opens the account), pass KYC by the provider's webhook;
    returns the account id."""
    account_id = register(cognito, app_client_id, email, password)
    confirm(cognito, user_pool_id, email)
    post(api_url, "/v1/webhooks/kyc", signed_kyc(kyc_secret, account_id))
    return account_id


def seed_demo_users(
    cognito: Any,
    ledger: PostgresLedger,
    *,
    user_pool_id: str,
    app_client_id: str,
    api_url: str,
    kyc_secret: str,
    emails: tuple[str, ...],
) -> list[DemoUser]:
    """Onboarded (``onboard``), funded users (``DEMO_FUNDS`` each)."""
    users = []
    for email in emails:
        account_id = onboard(
            cognito,
            user_pool_id=user_pool_id,
            app_client_id=app_client_id,
            api_url=api_url,
            kyc_secret=kyc_secret,
            email=email,
            password=DEMO_PASSWORD,
        )
        for asset, amount in DEMO_FUNDS.items():
            deposit(ledger, account_id, asset, amount)
        users.append(DemoUser(email, DEMO_PASSWORD, account_id))
    return users
