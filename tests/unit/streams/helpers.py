"""A market driven by the real matching engine, and Kinesis events of its journal records, for
the consumer tests."""

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, cast

from engine_service.core import Engine
from exchange.domain import (
    AmendOrder,
    AnyEvent,
    CancelOrder,
    InstrumentCatalog,
    NewOrder,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchange.orders.lifecycle import OrderState
from exchange.testing.lambda_events import LambdaContextStub
from exchange.wire import JournalRecord, encode_record

CATALOG = InstrumentCatalog.demo()
SYMBOL = "BTC-USD"
BTC = CATALOG.get(SYMBOL)
START_NS = 1_700_000_000 * 10**9
POISON = b"\x01\xc1 not a journal record"


@dataclass
class Market:
    """Commands in decimal strings, as the API takes them; events from the real engine."""

    symbol: str = SYMBOL
    engine: Engine = field(default_factory=lambda: Engine(list(CATALOG)))
    ts: "count[int]" = field(default_factory=lambda: count(START_NS, 1_000_000_000))
    events: list[AnyEvent] = field(default_factory=list)
    orders: dict[str, NewOrder] = field(default_factory=dict)

    def order(
        self,
        order_id: str,
        side: Side,
        qty: str,
        price: str | None,
        *,
        account: str,
        tif: TimeInForce = TimeInForce.GTC,
        order_type: OrderType = OrderType.LIMIT,
    ) -> list[AnyEvent]:
        instrument = CATALOG.get(self.symbol)
        command = NewOrder(
            symbol=self.symbol,
            ts=next(self.ts),
            order_id=order_id,
            account_id=account,
            client_order_id=f"c-{order_id}",
            side=side,
            order_type=order_type,
            tif=tif,
            qty=instrument.qty_to_lots(qty),
            price=None if price is None else instrument.price_to_ticks(price),
        )
        self.orders[order_id] = command
        return self._apply(command)

    def cancel(self, order_id: str, *, account: str) -> list[AnyEvent]:
        ts = next(self.ts)
        command = CancelOrder(
            symbol=self.symbol, ts=ts, command_id=f"k{ts}", order_id=order_id, account_id=account
        )
        return self._apply(command)

    def amend(self, order_id: str, *, account: str, qty: str) -> list[AnyEvent]:
        ts = next(self.ts)
        command = AmendOrder(
            symbol=self.symbol,
            ts=ts,
            command_id=f"k{ts}",
            order_id=order_id,
            account_id=account,
            qty=CATALOG.get(self.symbol).qty_to_lots(qty),
        )
        return self._apply(command)

    def _apply(self, command: NewOrder | CancelOrder | AmendOrder) -> list[AnyEvent]:
        events = cast(list[AnyEvent], self.engine.apply(command))
        self.events.extend(events)
        return events

    def pending(self, order_id: str) -> OrderState:
        """The row the REST API writes before it publishes the order."""
        command = self.orders[order_id]
        return OrderState(
            account_id=command.account_id,
            order_id=command.order_id,
            symbol=command.symbol,
            client_order_id=command.client_order_id,
            side=command.side,
            order_type=command.order_type,
            tif=command.tif,
            qty=command.qty,
            price=command.price,
            status=OrderStatus.PENDING_NEW,
            created_ns=command.ts,
            updated_ns=command.ts,
        )


def busy_market() -> Market:
    """Two makers, a taker that sweeps them partly, a cancel, an IOC remainder and an amend."""
    market = Market()
    market.order("o1", Side.SELL, "0.5", "65000.00", account="alice")
    market.order("o2", Side.SELL, "0.3", "65010.00", account="bob")
    market.order("o3", Side.BUY, "0.6", "65010.00", account="carol")
    market.order("o4", Side.BUY, "0.1", "64990.00", account="dave")
    market.amend("o4", account="dave", qty="0.05")
    market.order("o5", Side.BUY, "0.5", "65010.00", account="carol", tif=TimeInForce.IOC)
    market.cancel("o4", account="dave")
    return market


def records(events: Sequence[AnyEvent], size: int = 3) -> list[JournalRecord]:
    """The events packed into journal records of ``size`` events (one symbol's)."""
    return [JournalRecord.of(events[i : i + size]) for i in range(0, len(events), size)]


def kinesis_event(payloads: Sequence[bytes], *, partition_key: str = SYMBOL) -> dict[str, Any]:
    """A Lambda Kinesis event; each record's sequence number is its position."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": f"{49_000_000 + index:056d}",
                    "data": base64.b64encode(payload).decode(),
                    "approximateArrivalTimestamp": 1.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{index}",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/journal",
                "awsRegion": "us-east-1",
            }
            for index, payload in enumerate(payloads)
        ]
    }


def encoded(journal: Sequence[JournalRecord]) -> list[bytes]:
    return [encode_record(record) for record in journal]


def failures(response: Mapping[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def LambdaContext() -> LambdaContextStub:  # noqa: N802 - reads as the context it stands for
    return LambdaContextStub(function_name="test")
