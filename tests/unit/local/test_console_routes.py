"""The local gateway serves the trading console: its files at fixed paths with the console's
content security policy, its ``config.json``, nothing else from disk (no path reaches a file
outside the list made at start), and the REST API as before for every other path."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from yarl import URL

from local.functions import FunctionHost
from local.gateway.app import build_app
from local.gateway.console import CONSOLE_DIR, ConsoleConfig, ConsoleError, console_files
from local.gateway.websocket import WebSocketApi

CONFIG = ConsoleConfig(
    api_url="http://127.0.0.1:8000",
    ws_url="ws://127.0.0.1:8000/ws",
    region="us-east-1",
    user_pool_client_id="client-1",
    cognito_endpoint="http://127.0.0.1:9000",
)


def serve(scenario: Callable[[str], Awaitable[None]], console: ConsoleConfig | None) -> None:
    async def main() -> None:
        host = FunctionHost(handlers={})
        server = TestServer(build_app(host, None, WebSocketApi(host), console=console))
        await server.start_server()
        try:
            await scenario(str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()
            host.close()

    asyncio.run(main())


def test_the_page_its_files_and_its_config_are_served_with_the_policy() -> None:
    async def scenario(base: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/") as page:
                assert page.status == 200
                assert page.headers["Content-Type"] == "text/html; charset=utf-8"
                assert await page.read() == (CONSOLE_DIR / "index.html").read_bytes()
                policy = page.headers["Content-Security-Policy"]
                assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert "script-src 'self'" in policy.split("; ")
            assert (
                "connect-src 'self' http://127.0.0.1:8000 ws://127.0.0.1:8000"
                " http://127.0.0.1:9000" in policy.split("; ")
            )
            async with http.get(f"{base}/app.js") as script:
                assert script.status == 200
                assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
                assert script.headers["Content-Security-Policy"] == policy
            chart = "/vendor/lightweight-charts.standalone.production.js"
            async with http.get(base + chart) as vendored:
                assert vendored.status == 200
            async with http.get(f"{base}/config.json") as config:
                assert json.loads(await config.read()) == {
                    "api_url": "http://127.0.0.1:8000",
                    "ws_url": "ws://127.0.0.1:8000/ws",
                    "region": "us-east-1",
                    "user_pool_client_id": "client-1",
                    "cognito_endpoint": "http://127.0.0.1:9000",
                }

    serve(scenario, CONFIG)


@pytest.mark.parametrize(
    "path",
    [
        "/../local/stack.py",
        "/js/../../local/stack.py",
        "/js/%2e%2e/%2e%2e/local/stack.py",
        "/vendor/..%2f..%2fREADME.md",
        "/README.md",  # in the directory, but not part of the page
        "//etc/passwd",
        "/app.js/",
    ],
)
def test_no_other_file_is_served(path: str) -> None:
    async def scenario(base: str) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.get(URL(base + path, encoded=True)) as answer,
        ):
            # The REST API's answer for a path it does not know, as API Gateway's
            assert answer.status == 403
            assert "script-src" not in answer.headers.get("Content-Security-Policy", "")

    serve(scenario, CONFIG)


def test_without_a_console_the_rest_api_answers_every_path() -> None:
    async def scenario(base: str) -> None:
        async with aiohttp.ClientSession() as http:
            for path in ("/", "/app.js", "/config.json"):
                async with http.get(base + path) as answer:
                    assert answer.status == 403

    serve(scenario, None)


def test_a_console_file_that_would_shadow_the_gateway_is_refused(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "markets.js").write_text("")
    with pytest.raises(ConsoleError, match="shadow"):
        console_files(tmp_path)
    with pytest.raises(ConsoleError, match=r"index\.html"):
        console_files(tmp_path / "v1")


def test_the_files_are_the_directory_s_served_kinds() -> None:
    files = console_files()
    assert files["/"] == CONSOLE_DIR / "index.html"
    assert {"/index.html", "/app.js", "/style.css", "/vendor/LICENSE"} <= files.keys()
    assert "/README.md" not in files
    assert all(path.is_relative_to(CONSOLE_DIR) for path in files.values())
