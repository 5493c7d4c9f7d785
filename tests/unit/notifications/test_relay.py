"""The outbox relay: publishes the unpublished notices in order and marks them; a refused publish
leaves the rest for the next run, and nothing is published twice by one relay."""

from exchange.notifications.publisher import InMemoryNoticePublisher
from exchange.notifications.relay import relay_notices
from exchange.testing.lambda_events import LambdaContextStub, scheduled_event
from lambdas.notices_relay.handler import Relay, handler
from tests.unit.notifications.fakes import FakeNotices, deposit


def test_the_unpublished_notices_are_published_in_order_and_marked() -> None:
    # Given three notices in the outbox
    ledger = FakeNotices()
    ledger.outbox = [deposit(1), deposit(2), deposit(3)]
    publisher = InMemoryNoticePublisher()
    # When the relay runs twice
    assert relay_notices(ledger, publisher, limit=10) == 3
    assert relay_notices(ledger, publisher, limit=10) == 0
    # Then each was published once, in order, and marked
    assert [n.notice_id for n in publisher.published] == ["ledger#1", "ledger#2", "ledger#3"]
    assert ledger.published == ["ledger#1", "ledger#2", "ledger#3"]


def test_a_refused_publish_marks_those_before_it_and_leaves_the_rest() -> None:
    # Given three notices and a topic that takes only the first
    ledger = FakeNotices()
    ledger.outbox = [deposit(1), deposit(2), deposit(3)]
    publisher = InMemoryNoticePublisher()
    publisher.fail_after = 1
    # When the relay runs: nothing is raised, one went out
    assert relay_notices(ledger, publisher, limit=10) == 1
    assert ledger.published == ["ledger#1"]
    # Then the next run, with the topic back, sends the rest
    publisher.fail_after = None
    assert relay_notices(ledger, publisher, limit=10) == 2
    assert [n.notice_id for n in publisher.published] == ["ledger#1", "ledger#2", "ledger#3"]


def test_the_limit_bounds_one_run() -> None:
    ledger = FakeNotices()
    ledger.outbox = [deposit(n) for n in range(1, 6)]
    publisher = InMemoryNoticePublisher()
    assert relay_notices(ledger, publisher, limit=2) == 2
    assert ledger.published == ["ledger#1", "ledger#2"]


def test_the_scheduled_handler_relays_and_says_how_many() -> None:
    ledger = FakeNotices()
    ledger.outbox = [deposit(1)]
    relay = Relay(ledger=ledger, publisher=InMemoryNoticePublisher(), limit=10)
    answer = handler(
        scheduled_event("notices_relay"), LambdaContextStub("notices_relay"), relay=relay
    )
    assert answer == {"published": 1}
