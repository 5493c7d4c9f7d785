"""The accounts-and-ledger capability: exact balances, order holds, double-entry settlement of
engine events, deposits, withdrawals, positions and P&L.

Layout: pure rules (``money``, ``holds``, ``amends``, ``settlement``, ``fees``, ``movements``,
``positions``, ``webhooks``, ``dividends``), the instruments it settles (``catalog``), the port
(``port``) and its PostgreSQL implementation (``postgres``), schema migrations (``migrations``),
connections (``connection``: a URL, RDS Proxy with IAM tokens, or the admin secret) and each
function's database role (``roles``). The
functions' logic on top of the port: ``accounts`` (the account function), ``deposits`` (the deposit
webhook), ``onboarding`` (the Cognito post-confirmation trigger), ``verification`` (KYC decisions:
the provider's webhook and the operator's override), ``consumer`` (the settlement journal
consumer), ``payouts`` (the dividends function), ``deploy`` (the deploy-time migration runner),
and the operators' commands ``redrive`` (applies the records settlement quarantined) and ``kyc``
(overrides a KYC status). Account freezes and dividend declarations are the port's
(``set_frozen``, ``declare_dividend``), called by the admin API.
"""

from exchange.ledger.dividends import Dividend, DividendDeclaration, DividendPayout
from exchange.ledger.errors import (
    AccountFrozen,
    DividendConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidDividend,
    InvalidSignature,
    InvalidTransition,
    InvalidWebhook,
    KycNotAllowed,
    LedgerError,
    LedgerInconsistency,
    NoProtectionPrice,
    ReplayedWebhook,
    ReservationConflict,
    StaleWebhook,
    UnknownAccount,
    UnknownAsset,
    UnknownReservation,
    UnknownWithdrawal,
)
from exchange.ledger.holds import Hold
from exchange.ledger.model import (
    AccountKind,
    Balance,
    Deposit,
    DepositNotice,
    DividendCredit,
    KycStatus,
    Positions,
    SymbolPnl,
    Withdrawal,
    WithdrawalStatus,
)
from exchange.ledger.port import LedgerPort, accept_deposit_webhook
from exchange.settings import LedgerSettings

__all__ = [
    "AccountFrozen",
    "AccountKind",
    "Balance",
    "Deposit",
    "DepositNotice",
    "Dividend",
    "DividendConflict",
    "DividendCredit",
    "DividendDeclaration",
    "DividendPayout",
    "Hold",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidDividend",
    "InvalidSignature",
    "InvalidTransition",
    "InvalidWebhook",
    "KycNotAllowed",
    "KycStatus",
    "LedgerError",
    "LedgerInconsistency",
    "LedgerPort",
    "LedgerSettings",
    "NoProtectionPrice",
    "Positions",
    "ReplayedWebhook",
    "ReservationConflict",
    "StaleWebhook",
    "SymbolPnl",
    "UnknownAccount",
    "UnknownAsset",
    "UnknownReservation",
    "UnknownWithdrawal",
    "Withdrawal",
    "WithdrawalStatus",
    "accept_deposit_webhook",
]
