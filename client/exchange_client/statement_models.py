"""What the statement route returns (``GET /v1/transactions``), as typed values: amounts
``Decimal`` (signed: positive into the account), unknown fields ignored."""

from decimal import Decimal

import msgspec


class Transaction(msgspec.Struct, frozen=True, kw_only=True):
    """One line of your statement: a deposit, a completed withdrawal, a trade's leg in one
    asset, a fee, a rebate or a dividend; ``balance_after`` is your total (available + held) of
    ``asset`` after it. ``(tx_id, kind, asset)`` identifies it."""

    tx_id: int
    at: str  # ISO-8601, UTC, milliseconds
    kind: str  # DEPOSIT, WITHDRAWAL, TRADE, FEE, REBATE, DIVIDEND, ADJUSTMENT
    asset: str
    amount: Decimal
    balance_after: Decimal
    reference: str
    symbol: str | None = None
    seq: int | None = None


class TransactionPage(msgspec.Struct, frozen=True, kw_only=True):
    transactions: list[Transaction]
    next_cursor: str | None = None
