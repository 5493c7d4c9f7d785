"""Reads: balances, and positions with P&L replayed from the journal and the dividends paid."""

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal

from psycopg import Cursor

from exchange.ledger.catalog import LedgerInstruments
from exchange.ledger.model import Balance, Positions
from exchange.ledger.money import ZERO, to_scale
from exchange.ledger.positions import replay_pnl
from exchange.ledger.postgres.dividends import credits

Row = tuple[object, ...]


def _dec(value: object) -> Decimal:
    assert isinstance(value, Decimal)  # noqa: S101 - NUMERIC columns read as Decimal
    return value


def _scaled(amount: Decimal, asset: str, scales: Mapping[str, int]) -> Decimal:
    scale = scales.get(asset)
    return amount.normalize() if scale is None else to_scale(amount, scale)


def balances(cur: Cursor[Row], account_id: str, scales: Mapping[str, int]) -> list[Balance]:
    rows = cur.execute(
        "SELECT asset, available, held FROM ledger.balances WHERE account_id = %s ORDER BY asset",
        (account_id,),
    ).fetchall()
    return [
        Balance(
            asset=str(asset),
            available=_scaled(_dec(available), str(asset), scales),
            held=_scaled(_dec(held), str(asset), scales),
        )
        for asset, available, held in rows
    ]


def positions(
    cur: Cursor[Row], account_id: str, instruments: LedgerInstruments, scales: Mapping[str, int]
) -> Positions:
    """Holdings from the balances; average cost and realized P&L from the trade journal (a
    dividend is income, not a trade: it is in the holdings and listed, not in the P&L)."""
    rows = cur.execute(
        "SELECT t.tx_id, t.symbol, e.asset, sum(e.amount) "
        "FROM ledger.journal_entries e JOIN ledger.journal_tx t ON t.tx_id = e.tx_id "
        "WHERE e.account_id = %s AND t.kind = 'TRADE' "
        "GROUP BY t.tx_id, t.symbol, e.asset ORDER BY t.tx_id",
        (account_id,),
    ).fetchall()
    per_tx: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(dict)
    for tx_id, symbol, asset, amount in rows:
        per_tx[(int(str(tx_id)), str(symbol))][str(asset)] = _dec(amount)
    per_symbol: dict[str, list[tuple[Decimal, Decimal]]] = defaultdict(list)
    for (_tx_id, symbol), by_asset in sorted(per_tx.items()):
        instrument = instruments.get(symbol)
        per_symbol[symbol].append(
            (by_asset.get(instrument.base, ZERO), by_asset.get(instrument.quote, ZERO))
        )
    pnl = [
        replay_pnl(symbol, deltas, quote_scale=scales[instruments.get(symbol).quote])
        for symbol, deltas in sorted(per_symbol.items())
    ]
    return Positions(
        holdings=balances(cur, account_id, scales),
        pnl=pnl,
        dividends=credits(cur, account_id, scales),
    )
