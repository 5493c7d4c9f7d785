"""Users and money in the local stack: what an operator, the KYC provider and the payment
provider do in production, done here by the stack for its demo accounts and by tests.

- ``create_user``: a confirmed Cognito user (local Cognito) whose ``sub`` is the account id.
- ``open_account``: the ledger account, KYC verified (locally, KYC approves everyone).
- ``deposit``: credits through the ledger's own deposit path (``credit_deposit``), once per id.
- ``signed_deposit``: a webhook body and ``Exchange-Signature`` header as the payment provider
  sends them to ``POST /v1/webhooks/deposits``.
"""

import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from psycopg_pool import ConnectionPool

from exchange.domain import InstrumentCatalog
from exchange.ledger import DepositNotice, KycStatus
from exchange.ledger.postgres import PostgresLedger
from exchange.ledger.webhooks import SIGNATURE_HEADER, sign
from exchange.settings import DEFAULT_ASSET_SCALES

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


def create_user(cognito: Any, user_pool_id: str, email: str, password: str) -> str:
    """A confirmed user with a permanent password; returns its ``sub``."""
    cognito.admin_create_user(
        UserPoolId=user_pool_id,
        Username=email,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    cognito.admin_set_user_password(
        UserPoolId=user_pool_id, Username=email, Password=password, Permanent=True
    )
    return account_id_of(cognito, user_pool_id, email)


def account_id_of(cognito: Any, user_pool_id: str, email: str) -> str:
    attributes = cognito.admin_get_user(UserPoolId=user_pool_id, Username=email)["UserAttributes"]
    return str(next(a["Value"] for a in attributes if a["Name"] == "sub"))


def open_account(ledger: PostgresLedger, account_id: str) -> None:
    ledger.open_account(account_id, kyc_status=KycStatus.VERIFIED)


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


def signed_deposit(
    secret: str, account_id: str, asset: str, amount: Decimal, *, now: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The payment provider's webhook: raw body and headers for ``POST /v1/webhooks/deposits``."""
    deposit_id = f"dep-{uuid.uuid4().hex}"
    body = json.dumps(
        {
            "event_id": f"evt-{deposit_id}",
            "type": "deposit.succeeded",
            "deposit_id": deposit_id,
            "account_id": account_id,
            "asset": asset,
            "amount": str(amount),
        }
    ).encode()
    header = sign(body, secret=secret.encode(), timestamp=now or int(time.time()))
    return body, {SIGNATURE_HEADER: header, "Content-Type": "application/json"}


def add_user(
    cognito: Any, user_pool_id: str, ledger: PostgresLedger, email: str, password: str
) -> str:
    """A confirmed user with a verified ledger account; returns the account id."""
    account_id = create_user(cognito, user_pool_id, email, password)
    open_account(ledger, account_id)
    return account_id


def confirm_user(cognito: Any, user_pool_id: str, ledger: PostgresLedger, email: str) -> str:
    """The operator's part of a sign-up: confirm the user, open the account, pass KYC."""
    cognito.admin_confirm_sign_up(UserPoolId=user_pool_id, Username=email)
    account_id = account_id_of(cognito, user_pool_id, email)
    open_account(ledger, account_id)
    return account_id


def seed_demo_users(
    cognito: Any, user_pool_id: str, ledger: PostgresLedger, emails: tuple[str, ...]
) -> list[DemoUser]:
    """Confirmed, KYC-verified, funded users (``DEMO_FUNDS`` each)."""
    users = []
    for email in emails:
        account_id = add_user(cognito, user_pool_id, ledger, email, DEMO_PASSWORD)
        for asset, amount in DEMO_FUNDS.items():
            deposit(ledger, account_id, asset, amount)
        users.append(DemoUser(email, DEMO_PASSWORD, account_id))
    return users
