"""Security notices: the API keys' service tells of a new key (and a topic that refuses does not
fail the creation); a CloudTrail password call becomes a notice only when it names the user."""

import pytest

from exchange.apikeys.model import KeySpec
from exchange.apikeys.service import ApiKeyService
from exchange.notices import NoticeKind
from exchange.notifications.publisher import InMemoryNoticePublisher
from exchange.notifications.security import (
    HIDDEN,
    PASSWORD_CHANGE_PATTERN,
    password_notice_from_cloudtrail,
)
from tests.unit.apikeys.conftest import Keys


@pytest.fixture
def keys() -> Keys:
    return Keys()


def service(keys: Keys, publisher: InMemoryNoticePublisher | None) -> ApiKeyService:
    return ApiKeyService(
        store=keys.store, cipher=keys.cipher, default_rate_limit=20, max_per_account=5,
        clock_ns=keys.clock.ns, notices=publisher,
    )  # fmt: skip


def test_a_new_key_publishes_an_api_key_created_notice(keys: Keys) -> None:
    publisher = InMemoryNoticePublisher()
    created = service(keys, publisher).create("alice", "alice@x", KeySpec("bot", ("read",)))
    [notice] = publisher.published
    assert notice.notice_id == f"security#api_key.created#{created.key.key_id}"
    assert (notice.kind, notice.event, notice.account_id) == (
        NoticeKind.SECURITY,
        "api_key.created",
        "alice",
    )
    assert notice.data == {"key_id": created.key.key_id, "label": "bot", "scopes": "read"}
    assert created.secret not in notice.encode().decode()


def test_a_topic_that_refuses_does_not_fail_the_creation(keys: Keys) -> None:
    publisher = InMemoryNoticePublisher()
    publisher.fail = True
    created = service(keys, publisher).create("alice", None, KeySpec("bot", ("read",)))
    assert keys.store.get(created.key.key_id) is not None
    assert publisher.published == []


def test_without_a_publisher_nothing_is_published(keys: Keys) -> None:
    created = service(keys, None).create("alice", None, KeySpec("bot", ("read",)))
    assert keys.store.get(created.key.key_id) is not None


def cloudtrail(name: str, **detail: object) -> dict[str, object]:
    return {
        "id": "ev-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.cognito-idp",
        "time": "2024-01-02T03:04:05Z",
        "detail": {"eventSource": "cognito-idp.amazonaws.com", "eventName": name,
                   "eventID": "ct-1", **detail},
    }  # fmt: skip


def test_a_password_call_naming_its_user_becomes_a_notice() -> None:
    notice = password_notice_from_cloudtrail(
        cloudtrail("ChangePassword", additionalEventData={"sub": "alice"})
    )
    assert notice is not None
    assert (notice.notice_id, notice.account_id, notice.kind) == (
        "security#password.changed#ct-1",
        "alice",
        NoticeKind.SECURITY,
    )
    assert notice.at_ns == 1_704_164_645 * 10**9
    assert notice.data == {"via": "ChangePassword"}


def test_a_hidden_user_a_failed_call_or_another_call_gives_none() -> None:
    # "Amazon Cognito information in CloudTrail": private fields read HIDDEN_FOR_SECURITY_REASONS
    hidden = cloudtrail("ChangePassword", additionalEventData={"sub": HIDDEN})
    failed = cloudtrail("ChangePassword", errorCode="NotAuthorizedException",
                        additionalEventData={"sub": "alice"})  # fmt: skip
    other = cloudtrail("InitiateAuth", additionalEventData={"sub": "alice"})
    assert [password_notice_from_cloudtrail(e) for e in (hidden, failed, other)] == [None] * 3


def test_the_rule_pattern_matches_the_calls_the_parser_takes() -> None:
    detail = PASSWORD_CHANGE_PATTERN["detail"]
    assert PASSWORD_CHANGE_PATTERN["detail-type"] == ["AWS API Call via CloudTrail"]
    for name in detail["eventName"]:
        event = cloudtrail(name, additionalEventData={"sub": "alice"})
        assert password_notice_from_cloudtrail(event) is not None
