"""What the local stack starts beyond its functions (``local.outside``): the fake payment provider
wired to the gateway's payout webhook with the secrets the functions use, and the archive poller,
which starts each run on an empty ``events/`` (a new run's journal starts its seqs again) and
wakes on every journal write."""

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.aws import AwsResources, MotoServer, client, provision
from local.outside import ARCHIVE_PREFIX, PAYOUT_WEBHOOK_PATH, Outside


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(moto: MotoServer) -> AwsResources:
    # moto's backends are the process's, whichever server serves them: start from empty ones
    # (moto's own reset endpoint), then provision once for the module.
    reset = urllib.request.Request(  # noqa: S310 - moto on loopback
        f"{moto.endpoint_url}/moto-api/reset", method="POST"
    )
    with urllib.request.urlopen(reset, timeout=10) as answer:  # noqa: S310 - moto on loopback
        assert answer.status == 200
    return provision(moto.endpoint_url)


def test_the_provider_posts_to_the_gateways_payout_webhook_with_the_deposits_secret(
    aws: AwsResources, tmp_path: Path
) -> None:
    outside = Outside(archive_dir=tmp_path / "archive")
    stop = outside.start_provider("http://127.0.0.1:8000", aws)
    try:
        provider = outside.provider
        assert provider is not None
        assert provider.webhook_url == "http://127.0.0.1:8000" + PAYOUT_WEBHOOK_PATH
        assert provider.webhook_secret == aws.webhook_secret.encode()
        # The payout worker signs with the secret it reads from moto; the provider checks it
        stored = client("secretsmanager", aws.endpoint_url).get_secret_value(
            SecretId=aws.payout_provider_secret_arn
        )["SecretString"]
        assert json.loads(stored) == [aws.payout_provider_secret]
        assert provider.api_secret == aws.payout_provider_secret.encode()
        assert outside.provider_url == provider.url
        assert outside.status()["provider"]["status"]["payouts"] == 0
    finally:
        stop()
    assert outside.provider_url is None


def test_the_archive_starts_empty_keeps_what_is_not_its_own_and_wakes_on_writes(
    moto: MotoServer, aws: AwsResources, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    stale = root / ARCHIVE_PREFIX / "symbol=BTC-USD" / "date=2026-01-01" / "1-9.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a previous run's")
    mine = root / "notes.txt"
    mine.write_text("the developer's")
    outside = Outside(archive_dir=root)
    stop = outside.start_archive(aws, moto)
    try:
        assert not stale.exists()
        assert mine.read_text() == "the developer's"
        poller = outside.archive
        assert poller is not None
        assert poller.wake in moto._server.timings.on_stream_write
        assert outside.flush_archive()["dir"] == str(root)
    finally:
        stop()
    assert outside.archive is None
