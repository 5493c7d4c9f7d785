"""Publishing an admin action's engine commands, one per symbol, each with its own outcome.

A command the broker refused (or could not be sent: no connection, no route) is ``not_sent``;
one sent without a confirm is ``unconfirmed`` (the engine may have it: the queue's consumer
drops a second copy by its ``command_id``). A failure on one symbol never stops the others, so
a kill switch reaches every symbol it can; the answer lists each, and re-running the action is
safe (a status set twice is the same status, a second cancel finds nothing, a freeze of a frozen
account changes nothing).

>>> from exchange.testing.fakes import InMemoryCommandSink
>>> from exchange.domain.commands import MassCancel
>>> sink = InMemoryCommandSink(); sink.script = ["ok", "refused"]
>>> sent = publish_all(sink, [MassCancel(symbol=s, ts=1, command_id=f"adm_{s}", actor="olga")
...                           for s in ("BTC-USD", "ETH-USD")])
>>> [(s.symbol, s.outcome.value) for s in sent]
[('BTC-USD', 'queued'), ('ETH-USD', 'not_sent')]
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from exchange.domain.commands import OperatorCommand
from exchange.domain.errors import ExchangeError
from exchange.orders.errors import PublishUnconfirmed
from exchange.orders.publisher import CommandSink


class Outcome(StrEnum):
    QUEUED = "queued"  # the shard's queue confirmed it
    UNCONFIRMED = "unconfirmed"  # sent, no confirm: the engine may or may not get it
    NOT_SENT = "not_sent"  # certainly not queued: run the action again


@dataclass(frozen=True, slots=True)
class Sent:
    symbol: str
    command_id: str
    outcome: Outcome
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Dispatch:
    """What one action sent: its audit entry's seq in the ``operators`` chain, and each
    command's outcome."""

    audit_seq: int
    commands: tuple[Sent, ...]

    @property
    def complete(self) -> bool:
        return all(sent.outcome is not Outcome.NOT_SENT for sent in self.commands)

    @property
    def nothing_sent(self) -> bool:
        return bool(self.commands) and all(
            sent.outcome is Outcome.NOT_SENT for sent in self.commands
        )


def publish_all(sink: CommandSink, commands: Iterable[OperatorCommand]) -> tuple[Sent, ...]:
    """Publish each command; a failure is that command's outcome, never the others'."""
    sent = []
    for command in commands:
        try:
            sink.publish(command)
        except PublishUnconfirmed as exc:
            sent.append(Sent(command.symbol, command.command_id, Outcome.UNCONFIRMED, str(exc)))
        except ExchangeError as exc:  # the broker refused it, or no shard routes the symbol
            detail = f"{exc.code}: {exc}"
            sent.append(Sent(command.symbol, command.command_id, Outcome.NOT_SENT, detail))
        else:
            sent.append(Sent(command.symbol, command.command_id, Outcome.QUEUED))
    return tuple(sent)
