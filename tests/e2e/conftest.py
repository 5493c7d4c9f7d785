"""The local stack, started as a user starts it: ``python -m local`` in a child process, on a free
port, with its own state file. A subprocess (rather than an in-process fixture) because that is
what ``make run`` does, and because the stack sets process-wide state (the hosted Lambdas'
environment and settings caches) that must not leak into the test process.

With ``CI=true`` the real PostgreSQL, Redis and RabbitMQ must answer (the stack isolates itself
on them: a fresh database, a Redis db of its own, a RabbitMQ vhost of its own). Elsewhere the
stack uses what answers and embeds the rest.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from exchange_client import ClientConfig, ExchangeClient
from exchange_client.auth import CognitoAuth
from local.accounts import signed_deposit, signed_kyc
from local.process import StackFailed, running_stack
from tests.integration.conftest import (
    POSTGRES_URL,
    RABBITMQ_URL,
    REDIS_URL,
    require_service,
)

PASSWORD = "E2e-password-1"  # noqa: S105 - a throwaway test user's


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e_last: runs after every other e2e test of the session (it checks them all)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
    # The checks over everything the session did (the archive of its journal, every account's
    # statement) come last; the order of the others is kept (a stable sort).
    items.sort(key=lambda item: item.get_closest_marker("e2e_last") is not None)


class LocalStack:
    """A running ``python -m local`` and what the tests do with it."""

    def __init__(self, state: dict[str, Any], log: Path) -> None:
        self.state = state
        self.log = log
        self.config = ClientConfig.from_state(state)

    async def signup(self, email: str | None = None) -> tuple[ExchangeClient, str]:
        """A new user, signed up through Cognito, confirmed by the operator (the trigger opens
        the account), KYC-approved by the provider's webhook, signed in. Returns the client and
        the account id (the ``sub``). ``email``: the user's (default: a new random one)."""
        email = email or f"e2e-{uuid.uuid4().hex[:10]}@example.com"
        auth = CognitoAuth(
            app_client_id=self.config.app_client_id,
            endpoint_url=self.config.cognito_endpoint_url,
        )
        account_id = await asyncio.to_thread(auth.sign_up, email, PASSWORD)
        confirmed = await self.control("users/confirm", {"email": email})
        assert confirmed["account_id"] == account_id
        await self.kyc(account_id)
        client = ExchangeClient(self.config)
        await client.sign_in(email, PASSWORD)
        return client, account_id

    async def kyc(self, account_id: str, *, verified: bool = True) -> dict[str, Any]:
        """The KYC provider's signed webhook to ``POST /v1/webhooks/kyc``."""
        body, headers = signed_kyc(self.state["kyc_webhook_secret"], account_id, verified=verified)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.config.api_url}/v1/webhooks/kyc", data=body, headers=headers
            ) as answer,
        ):
            result: dict[str, Any] = await answer.json(content_type=None)
            assert answer.status == 200, result
            return result

    async def deposit(self, account_id: str, asset: str, amount: Decimal) -> dict[str, Any]:
        """The payment provider's signed webhook to ``POST /v1/webhooks/deposits``."""
        body, headers = signed_deposit(self.state["webhook_secret"], account_id, asset, amount)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.config.api_url}/v1/webhooks/deposits", data=body, headers=headers
            ) as response,
        ):
            answer: dict[str, Any] = await response.json()
            assert response.status == 200, answer
            return answer

    async def emails(self, to: str) -> list[dict[str, Any]]:
        """What SES (moto's) has sent to ``to``: the local mailbox."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.config.api_url}/_local/mailbox/emails", params={"to": to}) as answer,
        ):
            result: dict[str, Any] = await answer.json()
            assert answer.status == 200, result
            emails: list[dict[str, Any]] = result["emails"]
            return emails

    async def control(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.config.api_url}/_local/{action}", json=body or {}) as response,
        ):
            answer: dict[str, Any] = await response.json()
            assert response.status == 200, answer
            return answer

    async def status(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.config.api_url}/_local/status") as response,
        ):
            answer: dict[str, Any] = await response.json()
            return answer


async def eventually[T](
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout_s: float = 20.0,
    every_s: float = 0.2,
) -> T:
    """Poll ``probe`` until ``until`` holds for its result; fail with the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {timeout_s} s; last: {value!r}")
        await asyncio.sleep(every_s)


def _service_environment() -> dict[str, str]:
    if os.environ.get("CI", "").lower() != "true":
        return {}
    # CI: the real services must be there (this fails the test otherwise), and are used.
    return {
        "EXCHANGE_DATABASE_URL": require_service("PostgreSQL", POSTGRES_URL),
        "EXCHANGE_REDIS_URL": require_service("Redis", REDIS_URL),
        "EXCHANGE_BROKER_URL": require_service("RabbitMQ", RABBITMQ_URL),
    }


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("stack")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("EXCHANGE_", "POWERTOOLS_"))},
        **_service_environment(),
    }
    # EXCHANGE_E2E_EMBEDDED=1 runs the suite on the embedded stand-ins even where services answer.
    embedded = ("--embedded",) if os.environ.get("EXCHANGE_E2E_EMBEDDED") == "1" else ()
    log = folder / "stack.log"
    # The dividends' rule every second, not every minute, so a dividend due now is paid at once.
    schedules = ("--schedule", "dividends=1")
    # The archive of this session's journal, apart from the developer's (``make run``'s).
    archive = ("--archive-dir", str(folder / "archive"))
    try:
        with running_stack(
            folder / "stack.json", log, args=("--no-seed", *schedules, *archive, *embedded), env=env
        ) as state:
            yield LocalStack(state, log)
    except StackFailed as exc:
        pytest.fail(str(exc), pytrace=False)
