"""Plain-text views for the CLI: tables and the live book."""

from collections.abc import Sequence

from exchange_client.book import LocalBook


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) if rows else lines[0] + "\n(none)"


def render_book(book: LocalBook, depth: int, status: str = "") -> str:
    """Asks on top (best last), bids below (best first), like a trading screen."""
    bids, asks = book.levels(depth)
    lines = [f"{book.symbol}   seq {book.seq if book.seq is not None else '-'}   {status}", ""]
    lines.append(f"{'':>16} {'price':>14} {'qty':>14}")
    lines.extend(f"{'ask':>16} {price:>14} {qty:>14}" for price, qty in reversed(asks))
    best_bid, best_ask = book.best_bid(), book.best_ask()
    if best_bid and best_ask:
        lines.append(f"{'spread':>16} {best_ask[0] - best_bid[0]:>14}")
    else:
        lines.append(f"{'':>16} {'---':>14}")
    lines.extend(f"{'bid':>16} {price:>14} {qty:>14}" for price, qty in bids)
    return "\n".join(lines) + "\n\n(Ctrl-C to quit)\n"
