"""The request signature (``exchange.apikeys.signing``) on its own: canonical queries, header
round trips, and each part of a request the signature must bind."""

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.apikeys import signing

SECRET = "sk_" + "s" * 43
KEY_ID = "ak_" + "A1" * 12
T0 = 1_700_000_000_000

names = st.text(min_size=1, max_size=12)
values = st.text(max_size=12)
queries = st.dictionaries(names, st.lists(values, min_size=1, max_size=3), max_size=4)
bodies = st.binary(max_size=256)


@given(queries)
def test_the_canonical_query_decodes_back_to_the_same_pairs_in_sorted_order(
    query: dict[str, list[str]],
) -> None:
    canonical = signing.canonical_query(query)
    pairs = parse_qsl(canonical, keep_blank_values=True, strict_parsing=bool(canonical))
    assert pairs == sorted((name, value) for name, vals in query.items() for value in vals)
    # Only unreserved characters and percent escapes appear: no '+', no raw spaces.
    assert all(c.isascii() and (c.isalnum() or c in "-_.~%=&") for c in canonical)


@given(queries)
def test_the_canonical_query_ignores_the_order_the_parameters_came_in(
    query: dict[str, list[str]],
) -> None:
    reordered = {name: list(reversed(vals)) for name, vals in reversed(query.items())}
    assert signing.canonical_query(reordered) == signing.canonical_query(query)


@given(queries, bodies, st.sampled_from(["GET", "POST", "DELETE", "PATCH"]))
def test_a_signed_header_parses_and_verifies_for_its_own_request(
    query: dict[str, list[str]], body: bytes, method: str
) -> None:
    header = signing.authorization_header(
        KEY_ID, SECRET, method, "/v1/orders", query, body, timestamp_ms=T0
    )
    parsed = signing.parse_authorization(header)
    assert (parsed.key_id, parsed.timestamp_ms, parsed.content_sha256) == (
        KEY_ID,
        T0,
        signing.content_sha256(body),
    )
    signing.verify(parsed, SECRET, method, "/v1/orders", query, now_ms=T0 + 1)


@given(queries, st.text(min_size=1, max_size=8))
def test_an_added_query_parameter_breaks_the_signature(
    query: dict[str, list[str]], extra: str
) -> None:
    header = signing.authorization_header(
        KEY_ID, SECRET, "GET", "/v1/orders", query, b"", timestamp_ms=T0
    )
    changed = {**query, extra: [*query.get(extra, []), "x"]}
    with pytest.raises(signing.BadSignature):
        signing.verify(
            signing.parse_authorization(header), SECRET, "GET", "/v1/orders", changed, now_ms=T0
        )


@pytest.mark.parametrize(
    ("method", "path", "secret"),
    [
        ("POST", "/v1/orders", "sk_other"),  # another secret
        ("DELETE", "/v1/orders", SECRET),  # another method
        ("GET", "/v1/fills", SECRET),  # another path
    ],
)
def test_a_signature_binds_the_secret_method_and_path(method: str, path: str, secret: str) -> None:
    header = signing.authorization_header(
        KEY_ID, SECRET, "GET", "/v1/orders", {}, b"", timestamp_ms=T0
    )
    with pytest.raises(signing.BadSignature):
        signing.verify(signing.parse_authorization(header), secret, method, path, {}, now_ms=T0)


def test_the_body_digest_is_covered_so_a_header_with_another_digest_fails() -> None:
    header = signing.authorization_header(
        KEY_ID, SECRET, "POST", "/v1/orders", {}, b'{"qty":"1"}', timestamp_ms=T0
    )
    other = signing.content_sha256(b'{"qty":"9"}')
    forged = header.replace(signing.content_sha256(b'{"qty":"1"}'), other)
    with pytest.raises(signing.BadSignature):
        signing.verify(
            signing.parse_authorization(forged), SECRET, "POST", "/v1/orders", {}, now_ms=T0
        )


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (T0, True),
        (T0 + signing.DEFAULT_WINDOW_MS, True),  # the window's last millisecond
        (T0 + signing.DEFAULT_WINDOW_MS + 1, False),  # a replay after the window
        (T0 - signing.MAX_AHEAD_MS, True),
        (T0 - signing.MAX_AHEAD_MS - 1, False),  # from too far in the future
    ],
)
def test_the_timestamp_must_be_within_the_window(now: int, ok: bool) -> None:
    header = signing.authorization_header(
        KEY_ID, SECRET, "GET", "/v1/orders", {}, b"", timestamp_ms=T0
    )
    parsed = signing.parse_authorization(header)
    if ok:
        signing.verify(parsed, SECRET, "GET", "/v1/orders", {}, now_ms=now)
    else:
        with pytest.raises(signing.StaleRequest):
            signing.verify(parsed, SECRET, "GET", "/v1/orders", {}, now_ms=now)


ZEROS = "0" * 64
REST = f"ContentSha256={ZEROS}, Signature={ZEROS}"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer abc",
        f"{signing.SCHEME} Credential={KEY_ID}",
        f"{signing.SCHEME} Credential=ak_short, Timestamp=1, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=x, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=1, Window=0, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=1, Window=60001, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=1, {REST.replace(ZEROS, 'A' * 64)}",
        f"{signing.SCHEME} Credential={KEY_ID}, Credential={KEY_ID}, Timestamp=1, {REST}",
        # One spelling per number: another would be another header (and cache key) for the
        # same signature.
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=+1700000000000, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=1_700_000_000_000, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=01700000000000, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=1, Window=05000, {REST}",
        f"{signing.SCHEME} Credential={KEY_ID}, Timestamp=\u0661, {REST}",
    ],
)
def test_a_malformed_header_is_refused_before_any_key_is_looked_up(header: str) -> None:
    with pytest.raises(signing.MalformedSignature):
        signing.parse_authorization(header)


def test_a_websocket_connect_signature_round_trips_and_binds_its_parameters() -> None:
    parameters = signing.ws_connect_parameters(KEY_ID, SECRET, timestamp_ms=T0)
    parsed = signing.parse_ws_connect(parameters)
    signing.verify_ws_connect(parsed, SECRET, now_ms=T0)
    later = signing.parse_ws_connect({**parameters, "timestamp": str(T0 + 1)})
    with pytest.raises(signing.BadSignature):
        signing.verify_ws_connect(later, SECRET, now_ms=T0 + 1)
    with pytest.raises(signing.StaleRequest):
        signing.verify_ws_connect(parsed, SECRET, now_ms=T0 + signing.DEFAULT_WINDOW_MS + 1)
