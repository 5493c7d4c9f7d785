"""Your statement: every movement of your money, as the ledger recorded it.

    page = await client.transactions(asset="USD", limit=50)        # newest first
    everything = await client.transactions_all()                   # oldest first, every page
    totals = await client.statement_totals()                       # {"USD": Decimal(...), ...}
    text = await client.transactions_csv(start=datetime(2026, 1, 1, tzinfo=UTC))

The lines of an asset add up to its balance's total (available + held): ``statement_totals``
is what to compare with ``balances()``.
"""

from collections import defaultdict
from decimal import Decimal
from typing import Literal

from exchange_client.endpoints.common import Endpoints, Moment, iso_time
from exchange_client.errors import ExchangeClientError
from exchange_client.models import convert
from exchange_client.statement_models import Transaction, TransactionPage

Order = Literal["asc", "desc"]
MAX_PAGES = 10_000  # a listing that never ends is a server fault, not a reason to loop forever


class StatementEndpoints(Endpoints):
    async def transactions(
        self,
        asset: str | None = None,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order = "desc",
        limit: int = 100,
        cursor: str | None = None,
    ) -> TransactionPage:
        """One page of ``GET /v1/transactions``; pass its ``next_cursor`` (with the same
        filters) for the next."""
        raw = await self.http.request(
            "GET",
            "/v1/transactions",
            params={"asset": asset, "start": iso_time(start), "end": iso_time(end),
                    "order": order, "limit": limit, "cursor": cursor},
        )  # fmt: skip
        return convert(raw, TransactionPage)

    async def transactions_all(
        self,
        asset: str | None = None,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        page_size: int = 500,
    ) -> list[Transaction]:
        """Every line of the range, oldest first, page by page."""
        lines: list[Transaction] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.transactions(
                asset, start=start, end=end, order="asc", limit=page_size, cursor=cursor
            )
            lines.extend(page.transactions)
            if page.next_cursor is None:
                return lines
            cursor = page.next_cursor
        raise ExchangeClientError(f"GET /v1/transactions did not end after {MAX_PAGES} pages")

    async def statement_totals(self, asset: str | None = None) -> dict[str, Decimal]:
        """Per asset, the sum of every line of your statement: your balance's total, if the
        ledger reconciles (assets whose lines sum to zero are left out, as balances of zero)."""
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in await self.transactions_all(asset):
            totals[line.asset] += line.amount
        return {name: total for name, total in sorted(totals.items()) if total != 0}

    async def transactions_csv(
        self,
        asset: str | None = None,
        *,
        start: Moment | None = None,
        end: Moment | None = None,
        order: Order = "asc",
    ) -> str:
        """``GET /v1/transactions/csv``: the whole range as CSV text (RFC 4180, a header row);
        ApiError 422 ``statement_too_large`` past the server's cap (ask for shorter ranges)."""
        text: str = await self.http.request(
            "GET",
            "/v1/transactions/csv",
            params={"asset": asset, "start": iso_time(start), "end": iso_time(end),
                    "order": order},
            headers={"Accept": "text/csv"},
            as_text=True,
        )  # fmt: skip
        return text
