"""The ``dividends`` function's logic (scheduled every minute): pay the dividends that are due
(``LedgerPort.pay_due_dividends``), and count and log those whose issuer could not pay: metric
``DividendsUnfunded`` (alarmed), ``DividendsPaid``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from exchange.journal.batch import count
from exchange.ledger.dividends import DividendPayout
from exchange.ledger.money import show
from exchange.observability import logger


@dataclass(frozen=True, slots=True)
class DividendRun:
    paid: list[DividendPayout]
    unfunded: list[DividendPayout]

    def as_dict(self) -> dict[str, object]:
        return {
            "paid": [p.dividend_id for p in self.paid],
            "unfunded": [p.dividend_id for p in self.unfunded],
        }


class DividendLedger(Protocol):
    """What ``DividendPayer`` needs of the ledger (``LedgerPort`` has it)."""

    def pay_due_dividends(self, now: datetime, *, limit: int) -> list[DividendPayout]: ...


class DividendPayer:
    """The ``dividends`` function's logic: pay what is due, count and log what could not be."""

    def __init__(
        self,
        ledger: DividendLedger,
        *,
        limit: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._limit = limit
        self._clock = clock

    def run(self) -> DividendRun:
        payouts = self._ledger.pay_due_dividends(self._clock(), limit=self._limit)
        run = DividendRun(
            paid=[p for p in payouts if p.paid], unfunded=[p for p in payouts if not p.paid]
        )
        count("DividendsPaid", len(run.paid))
        count("DividendsUnfunded", len(run.unfunded))
        for payout in run.paid:
            logger.info(
                "dividend paid",
                extra={
                    "dividend_id": payout.dividend_id,
                    "symbol": payout.symbol,
                    "holders": payout.holders,
                    "total": f"{show(payout.total)} {payout.asset}",
                },
            )
        for payout in run.unfunded:
            logger.warning(
                "dividend unfunded: the issuer lacks the total; it stays DECLARED",
                extra={
                    "dividend_id": payout.dividend_id,
                    "symbol": payout.symbol,
                    "needed": f"{show(payout.total)} {payout.asset}",
                    "detail": payout.detail,
                },
            )
        return run
