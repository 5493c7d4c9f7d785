"""The engine's DynamoDB calls, all on global tables and all for failover:

- ``DynamoReplicatedEvents``: the journal's copy in the events table (``EventRecord``), what a
  region taking over rebuilds its books from, past the newest snapshot it holds. The recorder
  writes every journal event there, keyed by ``(symbol, seq)``; global tables replicate
  asynchronously, usually within a second ("How DynamoDB global tables work", DynamoDB Developer
  Guide). A strongly consistent read is consistent within this region's replica only: a write
  still on its way from the other region is not seen, which is why promotion waits for the tail
  to stop moving (``engine_service.recovery.settled_tail``).
- ``DynamoFence``: the ``failover`` table's item (``engine_service.fence``).
- ``DynamoCursors``: the consumers' cursors, which promotion rewinds to the rebuilt seqs, and
  ``DynamoAuditHeads``: the recorder's position (its audit log's head); promotion journals again,
  in its own stream, what the consumers furthest behind still lack (``composition``).

Both take a boto3 client of their region rather than the pynamodb models, whose table binding is
process-wide: the DR drill runs both regions in one process. The attribute names are the
models' (``exchange.tables.EventRecord`` and ``FailoverRecord``; a test checks they agree).
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engine_service.fence import SCOPE, FenceState
from exchange.domain.events import AnyEvent
from exchange.wire import decode_event


def newest_seq(client: Any, table: str, symbol: str) -> int:
    """The symbol's highest seq in a table keyed ``(symbol, seq)`` (0: none), read strongly
    consistent: the events table's tail, the audit log's head."""
    response = client.query(
        TableName=table,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "symbol", "#q": "seq"},
        ExpressionAttributeValues={":s": {"S": symbol}},
        ProjectionExpression="#q",
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )
    items = response["Items"]
    return int(items[0]["seq"]["N"]) if items else 0


def query_seqs(
    client: Any, table: str, symbol: str, seq_is: Literal[">", "<="], seq: int, **options: Any
) -> Iterator[dict[str, Any]]:
    """The items of a table keyed ``(symbol, seq)`` whose seq ``seq_is`` ``seq``, read strongly
    consistent, page after page (``options``: a projection, the direction)."""
    for page in client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression=f"#s = :s AND #q {seq_is} :q",
        ExpressionAttributeNames={"#s": "symbol", "#q": "seq"},
        ExpressionAttributeValues={":s": {"S": symbol}, ":q": {"N": str(seq)}},
        ConsistentRead=True,
        **options,
    ):
        yield from page["Items"]


class DynamoReplicatedEvents:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def events_after(self, symbol: str, seq: int) -> Iterator[AnyEvent]:
        for item in query_seqs(
            self._client, self._table, symbol, ">", seq, ProjectionExpression="payload"
        ):
            yield decode_event(item["payload"]["B"])

    def tail(self, symbol: str) -> int:
        """The symbol's highest seq in the table (0: none)."""
        return newest_seq(self._client, self._table, symbol)


class DynamoFence:
    """The fence item, read strongly consistent in this region's replica. No item: the primary
    region holds the fence at epoch 0."""

    def __init__(self, client: Any, table: str, *, primary_region: str) -> None:
        self._client = client
        self._table = table
        self._primary = primary_region

    def read(self) -> FenceState:
        item = self._client.get_item(
            TableName=self._table, Key={"scope": {"S": SCOPE}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return FenceState(self._primary, 0)
        return FenceState(item["active_region"]["S"], int(item["epoch"]["N"]))


@dataclass
class Rewound:
    """What a rewind did: ``(consumer, symbol, from, to)`` per cursor moved back, each symbol's
    lowest cursor afterwards (where the consumers furthest behind stand), and the named consumers
    that have no cursor for a symbol (counted at 0)."""

    done: list[tuple[str, str, int, int]] = field(default_factory=list)
    lowest: dict[str, int] = field(default_factory=dict)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (consumer, symbol): no cursor


class DynamoCursors:
    """The consumers' cursors (``CursorRecord``: the ``cursors`` global table), as promotion
    rewinds them.

    A consumer in the old primary region (the recorder's feed, fan-out, candles) may have applied
    events past what the promoting region rebuilt: they never replicated, and the new region
    emits its own events at those seqs. Its cursor, replicated, would take the new events for
    duplicates of another epoch and stop the symbol (``exchange.journal.epochs``). Promotion
    therefore moves each such cursor back to the rebuilt seq and drops the epochs it had recorded
    past it: those events are lost (they are the drill's RPO), and the consumer goes on with the
    new region's. Settlement is never among them when it settles behind the replication gate
    (``exchange.journal.gate``). Each rewind is logged, naming what the consumer had applied.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def rewind(
        self, seqs: Mapping[str, int], *, now_ns: int, consumers: Iterable[str] = ()
    ) -> Rewound:
        """Move every cursor of the symbols in ``seqs`` that is past its seq back to it.

        ``consumers`` are those that must be counted in ``lowest`` even without a cursor: one
        whose cursor for a symbol is not in this region's table (it never wrote one, or its
        first write has not replicated yet) stands at 0 for that symbol, and the copy has to
        begin at the symbol's first event, or its first record here would be a gap.
        """
        rewound = Rewound()
        seen: set[tuple[str, str]] = set()
        for page in self._client.get_paginator("scan").paginate(
            TableName=self._table, ConsistentRead=True
        ):
            for item in page["Items"]:
                symbol, consumer = item["symbol"]["S"], item["consumer"]["S"]
                if symbol not in seqs:
                    continue
                seen.add((consumer, symbol))
                last = int(item["last_seq"]["N"])
                if last > seqs[symbol] and self._move_back(item, last, seqs[symbol], now_ns):
                    rewound.done.append((consumer, symbol, last, seqs[symbol]))
                    last = seqs[symbol]
                rewound.lowest[symbol] = min(last, rewound.lowest.get(symbol, last))
        for consumer in consumers:
            for symbol in seqs:
                if (consumer, symbol) not in seen:
                    rewound.missing.append((consumer, symbol))
                    rewound.lowest[symbol] = 0
        return rewound

    def _move_back(self, item: dict[str, Any], last: int, to: int, now_ns: int) -> bool:
        kept = [
            entry for entry in item.get("epochs", {}).get("L", []) if int(entry["L"][0]["N"]) <= to
        ]
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"consumer": item["consumer"], "symbol": item["symbol"]},
                UpdateExpression="SET last_seq = :to, epochs = :kept, updated_ns = :now",
                ConditionExpression="last_seq = :from",
                ExpressionAttributeValues={
                    ":to": {"N": str(to)}, ":kept": {"L": kept},
                    ":now": {"N": str(now_ns)}, ":from": {"N": str(last)},
                },
            )  # fmt: skip
        except self._client.exceptions.ConditionalCheckFailedException:
            return False  # it moved meanwhile: a consumer of this region, now legitimate
        return True


# How many of a symbol's newest audit entries promotion reads for holes (replication's losses are
# among the last writes before the primary died).
HOLE_WINDOW = 10_000


class DynamoAuditHeads:
    """The recorder's position in a symbol's journal: the audit log's newest seq (it keeps no
    cursor; ``exchange.orders.recorder``)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def head(self, symbol: str) -> int:
        return newest_seq(self._client, self._table, symbol)

    def whole_through(self, symbol: str, *, top: int, window: int = HOLE_WINDOW) -> int:
        """The highest seq at or below ``top`` through which the symbol's entries have no hole,
        looking at the newest ``window`` of them (older ones are taken as whole).

        Global tables replicate item by item in no promised order, so a region that lost its
        primary may hold entry n + 1 but never n. The recorder's position is its newest entry, so
        such a hole would never be filled: promotion sets the entries past it aside and journals
        them again (``composition.promote_consumers``).
        """
        below: int | None = None  # the seq of the entry read last (descending)
        whole = top
        entries = query_seqs(
            self._client, self._table, symbol, "<=", top,
            ProjectionExpression="#q", ScanIndexForward=False,
        )  # fmt: skip
        for seen, item in enumerate(entries, start=1):
            seq = int(item["seq"]["N"])
            if seq != (top if below is None else below - 1):
                whole = seq  # a hole just above this entry
            below = seq
            if seen >= window:
                return whole
        if below is None:
            return 0  # no entry at all
        return whole if below == 1 else 0  # entries missing below the oldest read

    def supersede(self, symbol: str, *, after: int, epoch: int, now_ns: int) -> int:
        """Move the symbol's audit entries past seq ``after`` (the old region's events that the
        promotion did not rebuild) to the partition ``<symbol>#superseded@<epoch>``, kept whole
        with ``superseded_ns``; the chain then goes on from ``after``'s entry. How many moved."""
        moved = 0
        for item in query_seqs(self._client, self._table, symbol, ">", after):
            aside = {**item, "symbol": {"S": f"{symbol}#superseded@{epoch}"},
                     "superseded_ns": {"N": str(now_ns)}}  # fmt: skip
            self._client.put_item(TableName=self._table, Item=aside)
            self._client.delete_item(
                TableName=self._table, Key={"symbol": item["symbol"], "seq": item["seq"]}
            )
            moved += 1
        return moved
