"""The client's L2 book: snapshot plus chained delta frames, gap detection, and checksums the
same as the server's (``exchange.realtime.checksum``)."""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.realtime.checksum import best_first, book_checksum
from exchange_client.book import ChecksumMismatch, LocalBook, SeqGap, checksum


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


# -- checksums --------------------------------------------------------------------------------


def test_a_frame_whose_checksum_does_not_match_the_book_is_refused() -> None:
    book = LocalBook("BTC-USD")
    snapshot = {"seq": 1, "bids": [["100.00", "1.0", 1]], "asks": []}
    book.apply_snapshot({**snapshot, "checksum": book_checksum([("100.00", "1.0")], [])})
    # When a frame says the book is now 100.00 x 2.0 while its delta sets 3.0
    wrong = {**frame(1, 2, (2, "BUY", "100.00", "3.0")), "checksum": 0}
    with pytest.raises(ChecksumMismatch) as mismatch:
        book.apply_frame(wrong)
    assert (mismatch.value.seq, mismatch.value.expected) == (2, 0)


def test_levels_keep_their_exact_text_for_the_checksum() -> None:
    # Decimal("0.00000001") prints as 1E-8: the checksum must use the frame's own text
    book = LocalBook("X-Y")
    bids, asks = [("0.00000001", "100.000")], [("0.00000002", "5")]
    book.apply_snapshot(
        {"seq": 1, "bids": [[*bids[0], 1]], "asks": [[*asks[0], 1]],
         "checksum": book_checksum(bids, asks)}
    )  # fmt: skip
    assert book.verified == 1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_a_book_kept_from_frames_matches_the_servers_checksums_over_a_long_random_run(
    seed: int,
) -> None:
    # Given the server's side of a book (price text -> qty text per side) and the frames it
    # sends, each with the server's checksum of the book after it
    rng = random.Random(seed)
    sides: dict[str, dict[str, str]] = {"BUY": {}, "SELL": {}}

    def server_checksum() -> int:
        return book_checksum(best_first(sides["BUY"], descending=True), best_first(sides["SELL"]))

    book = LocalBook("BTC-USD")
    book.apply_snapshot({"seq": 0, "bids": [], "asks": [], "checksum": server_checksum()})
    seq = changed = 0
    for _ in range(500):
        deltas = []
        for _ in range(rng.randint(0, 6)):
            seq += 1
            side, ticks = rng.choice(["BUY", "SELL"]), rng.randint(1, 80)
            price = f"{ticks // 100}.{ticks % 100:02d}"
            qty = rng.choice(["0", "0", "1", "0.5000", "2.25", "10"])
            if qty == "0":
                sides[side].pop(price, None)
            else:
                sides[side][price] = qty
            deltas.append((seq, side, price, qty))
        # When the client applies each frame
        applied = book.apply_frame(
            {**frame(seq - len(deltas), seq, *deltas), "checksum": server_checksum()}
        )
        # Then each that changed the book verified (a frame of no seq covers nothing new)
        assert applied == bool(deltas)
        changed += applied
    # (with up to 80 levels a side, only the best 25 count)
    assert book.verified == 1 + changed
    assert book.checksum() == server_checksum()


@settings(max_examples=100)
@given(
    bids=st.dictionaries(st.decimals(0, 10**6, places=4).map(str), st.sampled_from(["1", "2.5"])),
    asks=st.dictionaries(st.decimals(0, 10**6, places=2).map(str), st.sampled_from(["0.1", "3"])),
)
def test_the_client_checksum_is_the_servers(bids: dict[str, str], asks: dict[str, str]) -> None:
    assert checksum(bids.items(), asks.items()) == book_checksum(
        best_first(bids, descending=True), best_first(asks)
    )
