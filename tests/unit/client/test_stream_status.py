"""The ``status`` channel through the stream: a snapshot of every symbol on subscribe, then each
change; ``stream.statuses`` keeps each symbol's newest by seq, so a change that arrived just
before a snapshot holding an older status is not undone (the frame format of
``exchange.realtime.frames``: ``status_snapshot`` and ``status``)."""

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from exchange_client import STATUS_CHANNEL, MarketStream, StreamEvent, SymbolStatus

FRAMES: list[dict[str, Any]] = [
    # a change posted while the subscriber registered, ahead of the snapshot...
    {"type": "status", "channel": "status", "symbol": "BTC-USD", "status": "HALTED",
     "previous": "TRADING", "seq": 12, "ts": 1},
    # ...and the snapshot, read a moment before that change
    {"type": "status_snapshot", "channel": "status", "markets": [
        {"symbol": "BTC-USD", "status": "TRADING", "seq": 0},
        {"symbol": "ETH-USD", "status": "TRADING", "seq": 0},
        {"symbol": "ACME-USD", "status": "POST_ONLY", "seq": 3}]},
    {"type": "status", "channel": "status", "symbol": "ETH-USD", "status": "CANCEL_ONLY",
     "previous": "TRADING", "seq": 15, "ts": 2},
]  # fmt: skip


def test_the_status_channel_keeps_each_symbols_newest_status() -> None:
    subscribed: list[dict[str, Any]] = []

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT and json.loads(message.data)["action"] == "subscribe":
                subscribed.append(json.loads(message.data))
                for frame in FRAMES:
                    await ws.send_str(json.dumps(frame))
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", socket)
        server = TestServer(app)
        await server.start_server()
        stream = MarketStream(str(server.make_url("/ws")), backoff_s=(0.01,))
        await stream.start()
        try:
            await stream.wait_connected()
            await stream.subscribe(STATUS_CHANNEL)
            events: list[StreamEvent] = []
            while len(events) < len(FRAMES):
                event = await stream.next_event(timeout_s=5)
                if event.kind == "status":
                    events.append(event)
            assert [e.data["type"] for e in events] == ["status", "status_snapshot", "status"]
            assert {e.channel for e in events} == {"status"}
            assert stream.statuses == {
                "BTC-USD": SymbolStatus("BTC-USD", "HALTED", 12),
                "ETH-USD": SymbolStatus("ETH-USD", "CANCEL_ONLY", 15),
                "ACME-USD": SymbolStatus("ACME-USD", "POST_ONLY", 3),
            }
        finally:
            await stream.close()
            await server.close()

    asyncio.run(main())
    assert [m["channel"] for m in subscribed] == ["status"]
