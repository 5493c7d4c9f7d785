"""The command broker's topology, declared in one place for the publisher (the orders Lambda) and
the consumer (the engine service), and the publisher itself.

Commands go to one direct exchange with the shard id as routing key. Each shard has one quorum
queue with single-active-consumer, so a standby engine task takes over in order. Messages that
cannot be processed are dead-lettered to the shard's DLQ: at once when malformed, or after
``DELIVERY_LIMIT`` redeliveries (a quorum-queue feature), so nothing blocks the shard.

>>> shards = ShardMap({"s1": ["BTC-USD", "ETH-USD"], "s2": ["SOL-USD"]})
>>> shards.shard_of("SOL-USD"), command_queue("s2")
('s2', 'engine.s2.commands')

A symbol listed at run time is in no static map: a ``fallback`` (the live catalog's
``shard_for``) says where it trades.

>>> listed = ShardMap({"s1": ["BTC-USD"]}, fallback={"ACME-USD": "s2"}.get)
>>> listed.shard_of("ACME-USD")
's2'
"""

import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

from exchange.aws import CachedSecret, SecretsClient
from exchange.domain.commands import Command
from exchange.domain.errors import ConfigurationError, UnknownInstrument
from exchange.settings import BrokerSettings
from exchange.wire import encode_command

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import BlockingChannel

COMMAND_EXCHANGE: Final = "exchange.commands"
DEAD_LETTER_EXCHANGE: Final = "exchange.commands.dlx"
DELIVERY_LIMIT: Final = 5
CONTENT_TYPE: Final = "application/x-exchange-wire"

UrlProvider = Callable[[], str]
# Where a symbol the static map lacks trades, or None when nowhere.
ShardFallback = Callable[[str], str | None]


def command_queue(shard: str) -> str:
    return f"engine.{shard}.commands"


def dead_letter_queue(shard: str) -> str:
    return f"engine.{shard}.dlq"


def queue_arguments(shard: str) -> dict[str, object]:
    """Arguments of a shard's command queue. RabbitMQ refuses a redeclare that differs, so these
    live here only."""
    return {
        "x-queue-type": "quorum",
        "x-single-active-consumer": True,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": shard,
        "x-delivery-limit": DELIVERY_LIMIT,
    }


class ShardMap:
    """Which shard (engine task) owns each symbol: the static map (``shards.json`` or
    ``EXCHANGE_SHARDS``), then ``fallback`` for the symbols it lacks."""

    def __init__(
        self, shards: Mapping[str, Sequence[str]], *, fallback: ShardFallback | None = None
    ) -> None:
        self._fallback = fallback
        self._shard_of: dict[str, str] = {}
        for shard, symbols in shards.items():
            for symbol in symbols:
                if symbol in self._shard_of:
                    raise ConfigurationError(
                        f"{symbol} is in shards {self._shard_of[symbol]} and {shard}"
                    )
                self._shard_of[symbol] = shard
        self.shards: dict[str, list[str]] = {
            shard: list(symbols) for shard, symbols in shards.items()
        }

    @classmethod
    def demo(cls, *, fallback: ShardFallback | None = None) -> "ShardMap":
        text = resources.files("exchange.data").joinpath("shards.json").read_text()
        return cls(json.loads(text), fallback=fallback)

    @classmethod
    def of(
        cls, shards: Mapping[str, Sequence[str]] | None, *, fallback: ShardFallback | None = None
    ) -> "ShardMap":
        """``shards`` (a settings' ``shards``), or the map shipped in the layer when None."""
        if shards is None:
            return cls.demo(fallback=fallback)
        return cls(shards, fallback=fallback)

    def shard_of(self, symbol: str) -> str:
        shard = self._shard_of.get(symbol)
        if shard is None and self._fallback is not None:
            shard = self._fallback(symbol)
        if shard is None:
            raise UnknownInstrument(f"no shard trades {symbol!r}")
        return shard


def declare(channel: "BlockingChannel", shard: str) -> None:
    """Declare the exchanges and the shard's queues (idempotent)."""
    channel.exchange_declare(COMMAND_EXCHANGE, exchange_type="direct", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="direct", durable=True)
    channel.queue_declare(command_queue(shard), durable=True, arguments=queue_arguments(shard))
    channel.queue_bind(command_queue(shard), COMMAND_EXCHANGE, routing_key=shard)
    channel.queue_declare(
        dead_letter_queue(shard), durable=True, arguments={"x-queue-type": "quorum"}
    )
    channel.queue_bind(dead_letter_queue(shard), DEAD_LETTER_EXCHANGE, routing_key=shard)


class CommandPublisher:
    """Publishes commands to their shard's queue with publisher confirms (pika, blocking).

    ``publish`` returns once the broker has confirmed the message to disk (quorum queues confirm
    after a majority wrote it); it raises if the broker refuses or cannot route it.
    """

    def __init__(self, channel: "BlockingChannel", shards: ShardMap) -> None:
        import pika  # noqa: PLC0415 - keeps pika out of processes that only decode

        self._channel = channel
        self._shards = shards
        self._properties = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2)
        channel.confirm_delivery()

    def publish(self, command: Command) -> None:
        self._channel.basic_publish(
            COMMAND_EXCHANGE,
            self._shards.shard_of(command.symbol),
            encode_command(command),
            properties=self._properties,
            mandatory=True,
        )


def broker_url(settings: BrokerSettings, secret: Callable[[], str] | None = None) -> UrlProvider:
    """The AMQP URL: ``broker_url`` as it is (local mode, tests), or Amazon MQ's endpoint with
    the username and password of the ``broker_secret_arn`` secret (JSON), read through
    ``secret`` (a ``CachedSecret``) on each connect."""
    url = settings.broker_url
    if url:
        return lambda: url
    endpoint = settings.broker_endpoint
    if not endpoint or secret is None:
        raise ConfigurationError(
            "set EXCHANGE_BROKER_URL, or EXCHANGE_BROKER_ENDPOINT and _SECRET_ARN"
        )
    parts = urlsplit(endpoint)

    def build() -> str:
        try:
            credentials = json.loads(secret())
            user, password = credentials["username"], credentials["password"]
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            # Never echo the secret: name the problem only.
            raise ConfigurationError(
                f"broker secret is not JSON with username and password: {type(exc).__name__}"
            ) from exc
        return (
            f"{parts.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}/%2F"
        )

    return build


def broker_url_from_settings(
    settings: BrokerSettings, secrets: Callable[[], SecretsClient]
) -> UrlProvider:
    """``broker_url`` with the secret read through Secrets Manager (cached, refreshed every five
    minutes so a rotated password reaches new connections). Nothing is fetched until called."""
    secret = (
        CachedSecret(settings.broker_secret_arn, secrets, parse=str)
        if settings.broker_secret_arn
        else None
    )
    return broker_url(settings, secret)
