"""Posting frames to WebSocket connections: the API Gateway Management API, or memory.

``send_many`` returns the connections that are gone (``GoneException``), so the caller can drop
them from the store. Large fan-outs post concurrently: each post is one HTTPS round trip, and a
boto3 client is safe to share between threads.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from exchange.aws import AwsLocation, aws_client
from exchange.domain.errors import ConfigurationError


class ManagementApiLocation(AwsLocation, Protocol):
    """The stage URL (``WebSocketSettings``) and the region to sign for."""

    @property
    def ws_management_endpoint(self) -> str | None: ...


Message = tuple[str, bytes]  # (connection_id, frame)
GONE: Final = "GoneException"


class Sender(ABC):
    @abstractmethod
    def send(self, connection_id: str, data: bytes) -> bool:
        """Post one frame; False when the connection is gone."""

    def send_many(self, messages: Sequence[Message]) -> set[str]:
        """Post every frame (in order per connection); the connection ids that are gone. A
        connection that answered Gone gets nothing more."""
        gone: set[str] = set()
        for cid, data in messages:
            if cid not in gone and not self.send(cid, data):
                gone.add(cid)
        return gone


class ManagementApiSender(Sender):
    """``apigatewaymanagementapi`` ``post_to_connection``; the client's endpoint is the stage URL
    (``https://{api}.execute-api.{region}.amazonaws.com/{stage}``; moto's server root locally)."""

    def __init__(self, client: Any, *, workers: int = 16, parallel_from: int = 8) -> None:
        self._client = client
        self._workers = workers
        self._parallel_from = parallel_from

    @classmethod
    def from_settings(cls, settings: ManagementApiLocation) -> "ManagementApiSender":
        endpoint = settings.ws_management_endpoint
        if not endpoint:
            raise ConfigurationError(
                "set EXCHANGE_WS_MANAGEMENT_ENDPOINT (the WebSocket stage URL)"
            )
        return cls(aws_client("apigatewaymanagementapi", settings, endpoint_url=endpoint))

    def send(self, connection_id: str, data: bytes) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == GONE:
                return False
            raise
        return True

    def send_many(self, messages: Sequence[Message]) -> set[str]:
        by_connection: dict[str, list[bytes]] = {}
        for cid, data in messages:
            by_connection.setdefault(cid, []).append(data)
        if len(by_connection) < self._parallel_from:
            return super().send_many(messages)
        # One task per connection keeps each connection's frames in order.
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            alive = pool.map(self._send_all, by_connection.items())
            return {cid for cid, ok in zip(by_connection, alive, strict=True) if not ok}

    def _send_all(self, item: tuple[str, list[bytes]]) -> bool:
        cid, frames = item
        return all(self.send(cid, data) for data in frames)
