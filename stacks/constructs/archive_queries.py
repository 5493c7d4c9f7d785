"""The archive's named Athena queries: what an analyst starts from. Each names its symbol (the
table's ``symbol`` partition is injected: "Use partition projection with Amazon Athena", a query
must give an injected key's value) and its days; a journal record that straddles midnight is filed
under its first event's date, so a day's query reads the day before as well and filters on
``ts_ns``. Prices are integer ticks and quantities integer lots (``exchange.archive.schema``).

Firehose delivers at least once ("Understand data delivery in Amazon Data Firehose": a retried
delivery can write a record twice), and a repeated record repeats its rows exactly: every query
reads ``DISTINCT`` rows, so a duplicate never doubles a trade or a candle's volume."""

from typing import Final

from exchange.domain.events import Trade

TRADE: Final = str(Trade.__struct_config__.tag)
NANOS_PER_MINUTE: Final = 60 * 10**9


def named_queries(database: str) -> dict[str, tuple[str, str]]:
    """Query id -> (description, SQL) over ``<database>.events``."""
    table = f'"{database}"."events"'
    day = (
        "symbol = 'BTC-USD' AND date IN ('2025-01-01', '2025-01-02')"
        " AND ts_ns >= to_unixtime(timestamp '2025-01-02 00:00:00 UTC') * 1e9"
        " AND ts_ns < to_unixtime(timestamp '2025-01-03 00:00:00 UTC') * 1e9"
    )
    return {
        "Trades": (
            "A symbol's trades of one day, in sequence (price in ticks, quantity in lots)",
            f"SELECT DISTINCT seq, ts_ns, price, qty, side, maker_order_id, taker_order_id\n"
            f"FROM {table}\nWHERE {day} AND type = '{TRADE}'\nORDER BY seq",
        ),
        "Candles1m": (
            "1-minute candles of a symbol's day, from its trades (open and close by sequence)",
            f"SELECT ts_ns / {NANOS_PER_MINUTE} * 60 AS minute_start_s,\n"  # noqa: S608 - constants
            "  min_by(price, seq) AS open, max(price) AS high, min(price) AS low,\n"
            "  max_by(price, seq) AS close, sum(qty) AS volume, count(*) AS trades\n"
            f"FROM (SELECT DISTINCT seq, ts_ns, price, qty FROM {table}\n"
            f"      WHERE {day} AND type = '{TRADE}')\n"
            "GROUP BY 1\nORDER BY 1",
        ),
        "OrderEvents": (
            "Every event of one order (accepted, amended, trades as taker or maker, cancelled)",
            f"SELECT DISTINCT seq, ts_ns, type, side, price, qty, event\nFROM {table}\n"
            "WHERE symbol = 'BTC-USD' AND date >= '2025-01-01'\n"
            "  AND 'o-123' IN (order_id, maker_order_id, taker_order_id)\nORDER BY seq",
        ),
    }
