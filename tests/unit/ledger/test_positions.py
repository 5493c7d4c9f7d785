"""Average cost and realized P&L replayed from trade deltas."""

from decimal import Decimal

from exchange.ledger.positions import replay_pnl


def d(value: str) -> Decimal:
    return Decimal(value)


def test_buys_average_their_cost_and_a_sale_realizes_against_it() -> None:
    # Given buys of 1 at 100 and 3 at 200 (fees inside the quote paid), then a sale of 2 for 500
    deltas = [(d("1"), d("-100")), (d("3"), d("-600")), (d("-2"), d("500"))]
    # When replayed
    pnl = replay_pnl("BTC-USD", deltas, quote_scale=2)
    # Then average cost is 175, realized is 500 - 350, and 2 remain
    assert (pnl.quantity, pnl.average_cost, pnl.realized_pnl) == (d("2"), d("175.00"), d("150.00"))


def test_selling_everything_leaves_no_average_cost() -> None:
    pnl = replay_pnl("BTC-USD", [(d("1"), d("-100")), (d("-1"), d("90"))], quote_scale=2)
    assert (pnl.quantity, pnl.average_cost, pnl.realized_pnl) == (d("0"), None, d("-10.00"))


def test_selling_deposited_coins_realizes_only_the_costed_part() -> None:
    # Given 1 bought at 100, then 2 sold for 300 (one of them was deposited, cost unknown)
    pnl = replay_pnl("BTC-USD", [(d("1"), d("-100")), (d("-2"), d("300"))], quote_scale=2)
    # Then only the costed half realizes: 150 - 100
    assert pnl.realized_pnl == d("50.00")


def test_a_self_trade_realizes_its_fees_as_a_loss() -> None:
    pnl = replay_pnl("BTC-USD", [(d("0"), d("-0.07"))], quote_scale=2)
    assert pnl.realized_pnl == d("-0.07")


def test_uneven_average_is_rounded_half_even_for_display_only() -> None:
    # Given three buys whose average is 100/3
    deltas = [(d("1"), d("-10")), (d("1"), d("-40")), (d("1"), d("-50")), (d("-3"), d("100"))]
    pnl = replay_pnl("X-USD", deltas[:3], quote_scale=2)
    assert pnl.average_cost == d("33.33")
    # And selling all at cost realizes exactly zero: the state is exact, not the rounded average
    assert replay_pnl("X-USD", deltas, quote_scale=2).realized_pnl == 0
