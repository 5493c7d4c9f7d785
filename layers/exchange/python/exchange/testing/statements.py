"""``InMemoryStatements``: the statements port on a list, for unit tests and the fuzz test.

A fake ledger mixes it in, calls ``_init_statements`` in its ``__init__``, and records a line
wherever it changes an account's total (``_record_line``: a deposit, a completed withdrawal, a
dividend); ``statement`` pages them as ``PostgresStatements`` does: ordered by ``(tx_id, kind,
asset)``, newest first unless asked, filtered by time and asset, with ``balance_after`` the
running sum of the account's lines.

>>> from datetime import UTC, datetime
>>> fake = InMemoryStatements()
>>> fake._init_statements()
>>> fake.accounts = {"a-1": None}
>>> fake._record_line("a-1", "USD", MovementKind.DEPOSIT, Decimal("5"), "dep-1",
...                   at=datetime(2026, 1, 1, tzinfo=UTC))
>>> [line.balance_after for line in fake.statement(StatementQuery("a-1")).lines]
[Decimal('5')]
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from exchange.ledger.errors import UnknownAccount
from exchange.ledger.statements import (
    MovementKind,
    StatementLine,
    StatementPage,
    StatementPosition,
    StatementQuery,
    StatementsPort,
)


@dataclass(frozen=True, slots=True)
class _Recorded:
    account_id: str
    line: StatementLine


class InMemoryStatements(StatementsPort):
    accounts: Mapping[str, object]  # the fake ledger's accounts: others raise UnknownAccount

    def _init_statements(self) -> None:
        """Called by the fake ledger's ``__init__``."""
        self._statement_lines: list[_Recorded] = []

    def _recorded(self) -> list[_Recorded]:
        return self._statement_lines

    def _record_line(
        self,
        account_id: str,
        asset: str,
        kind: MovementKind,
        amount: Decimal,
        reference: str,
        *,
        at: datetime,
        symbol: str | None = None,
        seq: int | None = None,
    ) -> None:
        """One line, in a transaction of its own, after the account's lines so far."""
        recorded = self._recorded()
        before = [r.line for r in recorded if r.account_id == account_id and r.line.asset == asset]
        balance = (before[-1].balance_after if before else Decimal(0)) + amount
        line = StatementLine(
            tx_id=len(recorded) + 1,
            at=at,
            kind=kind,
            asset=asset,
            amount=amount,
            balance_after=balance,
            reference=reference,
            symbol=symbol,
            seq=seq,
        )
        recorded.append(_Recorded(account_id, line))

    def statement(self, query: StatementQuery) -> StatementPage:
        if query.limit < 1:
            raise ValueError(f"limit must be at least 1, was {query.limit}")
        if query.account_id not in self.accounts:
            raise UnknownAccount(f"no account {query.account_id!r}")
        lines = sorted(
            (
                r.line
                for r in self._recorded()
                if r.account_id == query.account_id and _selected(r.line, query)
            ),
            key=_key,
            reverse=query.newest_first,
        )
        if query.after is not None:
            after = _position_key(query.after)
            lines = [
                line
                for line in lines
                if (_key(line) < after if query.newest_first else _key(line) > after)
            ]
        page = lines[: query.limit]
        more = len(lines) > query.limit
        last = page[-1] if page else None
        return StatementPage(
            lines=page,
            next_after=(
                StatementPosition(last.tx_id, last.kind, last.asset) if more and last else None
            ),
        )


def _selected(line: StatementLine, query: StatementQuery) -> bool:
    return (
        (query.asset is None or line.asset == query.asset)
        and (query.start is None or line.at >= query.start)
        and (query.end is None or line.at < query.end)
    )


def _key(line: StatementLine) -> tuple[int, str, str]:
    return (line.tx_id, line.kind.value, line.asset)


def _position_key(position: StatementPosition) -> tuple[int, str, str]:
    return (position.tx_id, position.kind.value, position.asset)
