"""The client's L2 book: snapshot plus chained delta frames, and gap detection."""

from decimal import Decimal

import pytest

from exchange_client.book import LocalBook, SeqGap


def frame(prev_seq: int, seq: int, *deltas: tuple[int, str, str, str]) -> dict[str, object]:
    return {
        "prev_seq": prev_seq,
        "seq": seq,
        "deltas": [{"seq": s, "side": side, "price": p, "qty": q} for s, side, p, q in deltas],
    }


def test_frames_before_the_snapshot_are_held_and_only_their_newer_part_applies() -> None:
    # Given a book that gets two delta frames before its snapshot at seq 11
    book = LocalBook("BTC-USD")
    book.apply_frame(frame(9, 10, (10, "BUY", "100.00", "1")))
    book.apply_frame(frame(10, 12, (11, "BUY", "100.00", "2"), (12, "SELL", "101.00", "3")))
    assert not book.ready
    # When the snapshot (which already has seqs 10 and 11) arrives
    book.apply_snapshot({"seq": 11, "bids": [["100.00", "2", 1]], "asks": []})
    # Then the first frame is dropped and only seq 12 of the second applies
    assert book.seq == 12
    assert book.bids == {Decimal("100.00"): Decimal("2")}
    assert book.asks == {Decimal("101.00"): Decimal("3")}


def test_a_missing_frame_is_a_gap() -> None:
    book = LocalBook("BTC-USD")
    book.apply_snapshot({"seq": 5, "bids": [], "asks": []})
    book.apply_frame(frame(5, 6, (6, "SELL", "101.00", "1")))
    # When the next frame starts after seq 7, seq 7 was lost
    with pytest.raises(SeqGap) as gap:
        book.apply_frame(frame(7, 8, (8, "SELL", "102.00", "1")))
    assert (gap.value.expected, gap.value.got) == (6, 7)


def test_a_level_at_zero_quantity_leaves_the_book() -> None:
    book = LocalBook("ETH-USD")
    book.apply_snapshot({"seq": 1, "bids": [["10.00", "1", 1]], "asks": [["11.00", "1", 1]]})
    book.apply_frame(frame(1, 2, (2, "SELL", "11.00", "0")))
    assert book.best_ask() is None
    assert book.best_bid() == (Decimal("10.00"), Decimal("1"))
