"""The WebSocket stream against a tiny server of the tests' own: a seq gap makes the client
resubscribe for a fresh snapshot, and a dropped connection is re-established and resubscribed."""

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from exchange_client import MarketStream


def snapshot(seq: int) -> dict[str, Any]:
    return {"type": "snapshot", "channel": "book.BTC-USD", "seq": seq,
            "bids": [["100.00", "1", 1]], "asks": []}  # fmt: skip


def delta(prev_seq: int, seq: int, qty: str) -> dict[str, Any]:
    return {
        "type": "book", "channel": "book.BTC-USD", "prev_seq": prev_seq, "seq": seq,
        "deltas": [{"seq": seq, "side": "BUY", "price": "100.00", "qty": qty}],
    }  # fmt: skip


def test_gap_resubscribes_and_a_dropped_connection_reconnects() -> None:
    received: list[list[dict[str, Any]]] = []  # per connection, the client's messages
    tokens: list[str | None] = []

    async def socket(request: web.Request) -> web.WebSocketResponse:
        tokens.append(request.query.get("token"))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        mine: list[dict[str, Any]] = []
        received.append(mine)
        subscribes = 0
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            mine.append(json.loads(message.data))
            if mine[-1]["action"] != "subscribe":
                continue
            subscribes += 1
            if len(received) == 1 and subscribes == 1:
                # first subscription: snapshot at 5, a delta, then a frame after a lost one
                for frame in (snapshot(5), delta(5, 6, "2"), delta(7, 8, "3")):
                    await ws.send_str(json.dumps(frame))
            elif len(received) == 1:
                await ws.send_str(json.dumps(snapshot(9)))  # the fresh snapshot
                await ws.close()  # and then the connection drops
            else:
                await ws.send_str(json.dumps(snapshot(20)))
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/ws", socket)
        server = TestServer(app)
        await server.start_server()

        async def token() -> str:
            return "t-1"

        stream = MarketStream(str(server.make_url("/ws")), token=token, backoff_s=(0.01,))
        await stream.start()
        try:
            await stream.subscribe("book.BTC-USD")
            kinds: list[str] = []
            while "connected" not in kinds[1:] or stream.books["BTC-USD"].seq != 20:
                kinds.append((await stream.next_event(timeout_s=5)).kind)
            # The delta after the snapshot applied, the gap was seen, and a reconnect happened
            assert kinds[:4] == ["connected", "book", "book", "gap"]
            assert "reconnecting" in kinds
            assert stream.gaps == 1
            assert stream.reconnects >= 1
        finally:
            await stream.close()
            await server.close()

    asyncio.run(main())
    # The gap made the client unsubscribe and subscribe again on the same connection...
    first = [(m["action"], m.get("channel")) for m in received[0]]
    assert first[:3] == [
        ("subscribe", "book.BTC-USD"),
        ("unsubscribe", "book.BTC-USD"),
        ("subscribe", "book.BTC-USD"),
    ]
    # ...and the new connection subscribed again by itself, with the token
    assert [(m["action"], m.get("channel")) for m in received[1]][:1] == [
        ("subscribe", "book.BTC-USD")
    ]
    assert tokens[:2] == ["t-1", "t-1"]
