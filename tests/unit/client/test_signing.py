"""The client's copy of the API-key signature against the server's: whatever the client signs,
the server's verifier accepts, and a request changed on the way is refused.

The client package carries its own copy (``exchange_client.signing``) so it installs without the
server's code; these tests are where the two meet."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.apikeys import signing as server
from exchange_client import signing as client
from exchange_client.credentials import ApiKey

NOW_MS = 1_700_000_000_000
KEY_ID = "ak_" + "A1b2C3d4E5"

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
queries = st.dictionaries(text.filter(bool), st.lists(text, min_size=1, max_size=3), max_size=4)
paths = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.:~", min_size=1, max_size=12),
    min_size=1,
    max_size=4,
).map(lambda parts: "/v1/" + "/".join(parts))
methods = st.sampled_from(["GET", "POST", "PATCH", "DELETE", "get", "post"])
secrets = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)


@settings(max_examples=300)
@given(
    method=methods,
    path=paths,
    query=queries,
    body=st.binary(max_size=200),
    secret=secrets,
    window=st.integers(1, server.MAX_WINDOW_MS),
    age=st.integers(0, 1_000),
)
def test_what_the_client_signs_the_server_verifies(
    *,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: bytes,
    secret: str,
    window: int,
    age: int,
) -> None:
    # Given a request the client signed
    header = client.authorization_header(
        KEY_ID, secret, method, path, query, body=body,
        timestamp_ms=NOW_MS - min(age, window), window_ms=window,
    )  # fmt: skip
    # When the server parses and verifies it (the authorizer), and checks the body's digest
    # against the one named in the header (the handler)
    signed = server.parse_authorization(header)
    server.verify(signed, secret, method, path, query, now_ms=NOW_MS)
    # Then both agree on every part of it
    assert (signed.key_id, signed.window_ms) == (KEY_ID, window)
    assert signed.content_sha256 == server.content_sha256(body)
    assert client.canonical_query(query) == server.canonical_query(query)


@settings(max_examples=100)
@given(query=queries, secret=secrets, extra=text.filter(bool))
def test_a_query_changed_on_the_way_is_refused(
    query: dict[str, list[str]], secret: str, extra: str
) -> None:
    header = client.authorization_header(
        KEY_ID, secret, "GET", "/v1/orders", query, body=b"", timestamp_ms=NOW_MS
    )
    changed = {**query, extra: [*query.get(extra, []), "1"]}
    signed = server.parse_authorization(header)
    with pytest.raises(server.BadSignature):
        server.verify(signed, secret, "GET", "/v1/orders", changed, now_ms=NOW_MS)


def test_a_signature_with_another_secret_or_path_is_refused() -> None:
    header = client.authorization_header(
        KEY_ID, "right", "DELETE", "/v1/orders", {}, body=b"", timestamp_ms=NOW_MS
    )
    signed = server.parse_authorization(header)
    for secret, path in (("wrong", "/v1/orders"), ("right", "/v1/orders/x")):
        with pytest.raises(server.BadSignature):
            server.verify(signed, secret, "DELETE", path, {}, now_ms=NOW_MS)


@settings(max_examples=100)
@given(secret=secrets, window=st.integers(1, server.MAX_WINDOW_MS))
def test_a_websocket_connect_the_client_signs_the_server_verifies(secret: str, window: int) -> None:
    parameters = ApiKey(KEY_ID, secret, window).ws_parameters(now_ms=NOW_MS)
    assert parameters == client.ws_connect_parameters(
        KEY_ID, secret, timestamp_ms=NOW_MS, window_ms=window
    )
    signed = server.parse_ws_connect(parameters)
    server.verify_ws_connect(signed, secret, now_ms=NOW_MS + window)
    assert signed.key_id == KEY_ID


def test_the_client_copy_keeps_the_servers_constants() -> None:
    assert (client.SCHEME, client.DEFAULT_WINDOW_MS, client.MAX_WINDOW_MS) == (
        server.SCHEME,
        server.DEFAULT_WINDOW_MS,
        server.MAX_WINDOW_MS,
    )
    assert (client.EMPTY_SHA256, client.WS_CONNECT_PATH) == (
        server.EMPTY_SHA256,
        server.WS_CONNECT_PATH,
    )
