"""Settings of money out, statements, notifications and the market-history archive (the
withdrawal destinations' delay, the payout queue and provider, the notifications topic and email,
the user directory), as mixins and one model per deployable, like ``base`` and ``deployables``."""

from typing import Annotated, Final

from pydantic import Field, SecretStr

from exchange.settings.base import (
    AwsSettings,
    InstrumentSettings,
    ObservabilitySettings,
    TableSettings,
    WebSocketSettings,
)
from exchange.settings.deployables import (
    AccountSettings,
    ApiKeysSettings,
    ConsumerSettings,
    DepositsSettings,
    LedgerSettings,
)

# A new withdrawal destination can be used a day after it is added, as on real exchanges: a
# stolen session cannot add an address and drain the account at once. Local mode shortens it.
DEFAULT_DESTINATION_DELAY_SECONDS: Final = 24 * 3600
# A payout the provider has not answered within this long is sent again (same idempotency key).
DEFAULT_PAYOUT_STUCK_SECONDS: Final = 15 * 60
DEFAULT_PAYOUT_MAX_ATTEMPTS: Final = 5


# --- mixins -----------------------------------------------------------------------------------


class WithdrawalPolicySettings(ObservabilitySettings):
    """How long a new destination waits before it can be used."""

    destination_delay_seconds: Annotated[int, Field(ge=0, le=30 * 86_400)] = (
        DEFAULT_DESTINATION_DELAY_SECONDS
    )


class PayoutQueueSettings(AwsSettings):
    """The SQS queue of payouts to send (``Need.PAYOUT_QUEUE``)."""

    payout_queue_url: str | None = None


class PayoutProviderSettings(AwsSettings):
    """The payment provider's payouts API (``Need.PAYOUT_PROVIDER``): its base URL, the API secret
    that signs our requests (``payout_provider_secret_arn`` in AWS, ``payout_provider_secret``
    locally), the per-request timeout and the retries of one send."""

    payout_provider_url: str | None = None
    payout_provider_secret_arn: str | None = None
    payout_provider_secret: SecretStr | None = None
    payout_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    payout_retries: Annotated[int, Field(ge=0, le=10)] = 3


class NotificationsTopicSettings(AwsSettings):
    """The SNS topic every notice is published to (``Need.NOTIFICATIONS_TOPIC``)."""

    notifications_topic_arn: str | None = None


class EmailSettings(AwsSettings):
    """SES (``Need.EMAIL``): the verified sender and the configuration set."""

    email_sender: str = "no-reply@exchange.example"
    email_configuration_set: str | None = None


class UserDirectorySettings(AwsSettings):
    """The Cognito user pool where a user's email address is read (``Need.USER_DIRECTORY``)."""

    user_pool_id: str | None = None
    user_pool_region: str | None = None


# --- deployables ------------------------------------------------------------------------------


class MoneyAccountSettings(AccountSettings, WithdrawalPolicySettings, PayoutQueueSettings):
    """The account function, with withdrawal destinations, the payout queue a new withdrawal is
    sent to, statements and notification preferences."""


class PayoutsSettings(
    LedgerSettings, InstrumentSettings, PayoutProviderSettings, NotificationsTopicSettings
):
    """The payout worker (SQS): claims a withdrawal in the ledger and sends it to the provider.
    The instruments are the file's (or the layer's): a payout touches no instrument."""


class PayoutSweeperSettings(LedgerSettings, InstrumentSettings, PayoutQueueSettings):
    """Scheduled: sends stuck payouts again, and counts those past their last attempt."""

    payout_stuck_seconds: Annotated[int, Field(ge=30, le=86_400)] = DEFAULT_PAYOUT_STUCK_SECONDS
    payout_max_attempts: Annotated[int, Field(ge=1, le=100)] = DEFAULT_PAYOUT_MAX_ATTEMPTS
    payout_sweep_limit: Annotated[int, Field(ge=1, le=1_000)] = 100


class NotifierSettings(ConsumerSettings, NotificationsTopicSettings):
    """The journal's notices (fills) to SNS: a Kinesis consumer."""


class NoticesRelaySettings(LedgerSettings, NotificationsTopicSettings):
    """Scheduled: publishes the ledger's outbox (deposits, withdrawals, security) to SNS."""

    notices_batch_limit: Annotated[int, Field(ge=1, le=10_000)] = 500


class EmailerSettings(
    LedgerSettings, TableSettings, EmailSettings, UserDirectorySettings, WebSocketSettings
):
    """SNS -> SQS -> this: each notice emailed once (the notifications table), as the user's
    preferences say."""


class ArchiveTransformSettings(ObservabilitySettings, InstrumentSettings):
    """Firehose's transform: journal records in, one flat JSON row per event out."""


class MoneyApiKeysSettings(ApiKeysSettings, NotificationsTopicSettings):
    """The api_keys function, which also publishes a security notice for each new key."""


class MoneyDepositsSettings(DepositsSettings, NotificationsTopicSettings):
    """The provider's webhooks: deposits and payouts; the ledger's notices relayed at once."""


__all__ = [
    "DEFAULT_DESTINATION_DELAY_SECONDS",
    "DEFAULT_PAYOUT_MAX_ATTEMPTS",
    "DEFAULT_PAYOUT_STUCK_SECONDS",
    "ArchiveTransformSettings",
    "EmailSettings",
    "EmailerSettings",
    "MoneyAccountSettings",
    "MoneyApiKeysSettings",
    "MoneyDepositsSettings",
    "NoticesRelaySettings",
    "NotificationsTopicSettings",
    "NotifierSettings",
    "PayoutProviderSettings",
    "PayoutQueueSettings",
    "PayoutSweeperSettings",
    "PayoutsSettings",
    "UserDirectorySettings",
    "WithdrawalPolicySettings",
]
