"""The notifier: each trade of the journal gives one FILL notice per account, the buyer's and the
seller's, with stable ids, in the instrument's decimals; a batch reports its failed records."""

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from exchange.domain import Side
from exchange.domain.events import Trade
from exchange.notices import NoticeKind
from exchange.notifications.notifier import FillNotifier, fill_notices, notify_batch
from exchange.notifications.publisher import InMemoryNoticePublisher
from exchange.testing.lambda_events import LambdaContextStub
from lambdas.notifier.handler import handler
from tests.unit.streams.helpers import (
    BTC,
    CATALOG,
    POISON,
    Market,
    encoded,
    failures,
    kinesis_event,
    records,
)


def crossed() -> Market:
    """alice rests a sell; bob buys through it."""
    market = Market()
    market.order("o-a", Side.SELL, "0.5", "65000.00", account="alice")
    market.order("o-b", Side.BUY, "0.2", "65000.00", account="bob")
    return market


def test_a_trade_gives_the_buyer_and_the_seller_one_notice_each() -> None:
    # Given a trade between alice (maker, sell) and bob (taker, buy)
    trade = next(e for e in crossed().events if isinstance(e, Trade))
    # When it is turned into notices
    notices = {n.account_id: n for n in fill_notices(trade, BTC)}
    # Then each side has one, with its own side, order and role, in decimal strings
    assert set(notices) == {"alice", "bob"}
    bob, alice = notices["bob"], notices["alice"]
    assert bob.notice_id == f"fill#BTC-USD#{trade.seq}#bob"
    assert alice.notice_id == f"fill#BTC-USD#{trade.seq}#alice"
    assert (bob.kind, bob.event, bob.at_ns) == (NoticeKind.FILL, "fill", trade.ts)
    assert bob.data == {
        "symbol": "BTC-USD", "side": "BUY", "role": "taker", "price": "65000.00", "qty": "0.2000",
        "order_id": "o-b", "seq": str(trade.seq),
    }  # fmt: skip
    assert (alice.data["side"], alice.data["role"], alice.data["order_id"]) == (
        "SELL",
        "maker",
        "o-a",
    )


def test_a_replayed_record_publishes_the_same_ids_again() -> None:
    # Given a record holding a trade, published once
    journal = records(crossed().events, size=100)
    publisher = InMemoryNoticePublisher()
    notifier = FillNotifier(publisher, catalog=CATALOG)
    notifier.publish(journal[0])
    first = [n.notice_id for n in publisher.published]
    # When the same record comes again (a retry, a replay)
    notifier.publish(journal[0])
    # Then it publishes the same ids (the emailer sends each once)
    assert [n.notice_id for n in publisher.published] == first * 2
    assert len(first) == 2


def test_records_without_trades_publish_nothing() -> None:
    market = Market()
    market.order("o-a", Side.SELL, "0.5", "65000.00", account="alice")
    publisher = InMemoryNoticePublisher()
    assert FillNotifier(publisher, catalog=CATALOG).publish(records(market.events)[0]) == 0
    assert publisher.published == []


def test_a_poison_record_and_a_refused_publish_fail_only_their_records() -> None:
    # Given a batch: a poison record, then the trade's record
    payloads = [POISON, *encoded(records(crossed().events, size=100))]
    event = kinesis_event(payloads)
    publisher = InMemoryNoticePublisher()
    # When the notifier handles it
    response = notify_batch(event, FillNotifier(publisher, catalog=CATALOG))
    # Then the poison record failed, the trade was published
    assert failures(response) == [event["Records"][0]["kinesis"]["sequenceNumber"]]
    assert len(publisher.published) == 2
    # And when the topic refuses, the trade's record fails too: the whole batch raises, and
    # Lambda retries it (as for every journal consumer)
    publisher.fail = True
    with pytest.raises(BatchProcessingError):
        notify_batch(event, FillNotifier(publisher, catalog=CATALOG))


def test_the_handler_publishes_through_the_notifier_it_is_given() -> None:
    publisher = InMemoryNoticePublisher()
    event = kinesis_event(encoded(records(crossed().events, size=100)))
    response = handler(
        event, LambdaContextStub("notifier"), notifier=FillNotifier(publisher, catalog=CATALOG)
    )
    assert response == {"batchItemFailures": []}
    assert {n.account_id for n in publisher.published} == {"alice", "bob"}
