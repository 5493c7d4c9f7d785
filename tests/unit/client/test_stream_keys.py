"""The WebSocket stream with an API key and checksummed books, against a tiny server of the
tests' own: ``$connect`` carries a signature the server's verifier accepts, a snapshot whose
checksum does not match is rebuilt, and the private ``balances`` and public ``ticker`` frames
reach the caller."""

import asyncio
import json
import time
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from exchange.apikeys import signing as server
from exchange.realtime.checksum import book_checksum
from exchange_client import ApiKey, MarketStream

KEY = ApiKey("ak_" + "Stream0001", "sk_stream_secret")
BIDS = [("100.00", "1.5")]


def snapshot(*, checksum: int) -> dict[str, Any]:
    return {
        "type": "snapshot", "channel": "book.BTC-USD", "seq": 7,
        "bids": [[*BIDS[0], 1]], "asks": [], "checksum": checksum,
    }  # fmt: skip


def test_an_api_key_connect_verifies_and_a_bad_checksum_rebuilds_the_book() -> None:
    verified: list[str] = []
    actions: list[tuple[str, str | None]] = []

    async def socket(request: web.Request) -> web.WebSocketResponse:
        # The $connect authorizer's check, on the query as received
        signed = server.parse_ws_connect(dict(request.query))
        server.verify_ws_connect(signed, KEY.secret, now_ms=time.time_ns() // 10**6)
        verified.append(signed.key_id)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        subscribes = 0
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            sent = json.loads(message.data)
            actions.append((sent["action"], sent.get("channel")))
            if sent["action"] != "subscribe" or sent["channel"] != "book.BTC-USD":
                continue
            subscribes += 1
            good = book_checksum(BIDS, [])
            # First a snapshot whose checksum is wrong, then (resubscribed) a right one
            await ws.send_str(json.dumps(snapshot(checksum=good if subscribes > 1 else good + 1)))
            if subscribes > 1:
                balances = {"asset": "USD", "available": "10", "held": "0", "total": "10"}
                frames = [
                    {"type": "balances", "channel": "balances", "balances": [balances], "ts": 1},
                    {"type": "ticker", "channel": "ticker.BTC-USD", "symbol": "BTC-USD",
                     "last": "100.00", "seq": 7},
                ]  # fmt: skip
                for frame in frames:
                    await ws.send_str(json.dumps(frame))
        return ws

    async def main() -> list[str]:
        app = web.Application()
        app.router.add_get("/ws", socket)
        test_server = TestServer(app)
        await test_server.start_server()
        stream = MarketStream(str(test_server.make_url("/ws")), api_key=KEY, backoff_s=(0.01,))
        await stream.start()
        kinds: list[str] = []
        try:
            await stream.wait_connected()
            await stream.subscribe("balances")
            await stream.subscribe("book.BTC-USD")
            while "ticker" not in kinds:
                kinds.append((await stream.next_event(timeout_s=5)).kind)
            assert stream.books["BTC-USD"].verified == 1
        finally:
            await stream.close()
            await test_server.close()
        return kinds

    kinds = asyncio.run(main())
    # The connect was signed with the key; the bad snapshot was a gap that resubscribed
    assert verified == [KEY.key_id]
    assert kinds == ["connected", "gap", "book", "balances", "ticker"]
    assert actions == [
        ("subscribe", "balances"),
        ("subscribe", "book.BTC-USD"),
        ("unsubscribe", "book.BTC-USD"),
        ("subscribe", "book.BTC-USD"),
    ]
