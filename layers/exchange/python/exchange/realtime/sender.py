"""Posting frames to WebSocket connections: the API Gateway Management API, or memory.

``send_many`` returns the connections that are gone (``GoneException``), so the caller can drop
them from the store. Large fan-outs post concurrently: each post is one HTTPS round trip, and a
boto3 client is safe to share between threads.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from botocore.exceptions import ClientError

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


class MemorySender(Sender):
    def __init__(self, gone: set[str] | None = None) -> None:
        self.gone = set(gone or ())
        self.sent: list[Message] = []

    def send(self, connection_id: str, data: bytes) -> bool:
        if connection_id in self.gone:
            return False
        self.sent.append((connection_id, data))
        return True

    def frames(self, connection_id: str) -> list[bytes]:
        return [data for cid, data in self.sent if cid == connection_id]


class ManagementApiSender(Sender):
    """``apigatewaymanagementapi`` ``post_to_connection``; the client's endpoint is the stage URL
    (``https://{api}.execute-api.{region}.amazonaws.com/{stage}``; moto's server root locally)."""

    def __init__(self, client: Any, *, workers: int = 16, parallel_from: int = 8) -> None:
        self._client = client
        self._workers = workers
        self._parallel_from = parallel_from

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
