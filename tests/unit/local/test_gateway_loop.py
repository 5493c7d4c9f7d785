"""The local gateway never blocks its event loop on a token: the Cognito authorizer's signature
check (and a JWKS fetch on a key it has not cached) runs on a worker thread."""

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from local.functions import FunctionHost
from local.gateway.app import RestApi
from local.gateway.events import HttpRequest


class SlowVerifier:
    """A verifier that takes 0.3 s, as one fetching the pool's keys over HTTP would."""

    def verify(self, presented: str, scopes: Sequence[str] = ()) -> Mapping[str, Any]:
        time.sleep(0.3)
        return {"sub": "acct-1", "token_use": "access"}


def test_verifying_a_token_leaves_the_loop_free() -> None:
    host = FunctionHost(handlers={})
    api = RestApi(host, SlowVerifier())
    request = HttpRequest(
        method="GET", path="/v1/orders", headers=(("Authorization", "Bearer t"),), query=(),
        body=b"", source_ip="127.0.0.1",
    )  # fmt: skip

    async def main() -> tuple[int, list[Any]]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        claims = await asyncio.gather(*(api._claims(request, ("s",)) for _ in range(2)))
        beat.cancel()
        return ticks, list(claims)

    try:
        ticks, claims = asyncio.run(main())
    finally:
        host.close()
    assert claims == [{"sub": "acct-1", "token_use": "access"}] * 2
    # 0.3 s of verifying (the two side by side): the loop ran on meanwhile. Blocked, it would
    # have ticked at most once or twice, after each verification.
    assert ticks >= 10
