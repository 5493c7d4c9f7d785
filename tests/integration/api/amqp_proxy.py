"""A TCP proxy between an AMQP client and the real RabbitMQ that injects a fault at a publish.

It reads the client's frames (type, channel, size, payload, end octet) and, while armed, acts on
the next ``basic.publish``:

- ``DROP_CONFIRM``: the message reaches the broker, but nothing the broker sends after it (the
  confirm, heartbeats, a close) reaches the client;
- ``CLOSE_AFTER_PUBLISH``: the whole message (method, header and body frames) is forwarded, then
  both connections are closed at once: the broker may or may not have routed it;
- ``STALL``: nothing more is forwarded either way from the publish on (the message never reaches
  the broker), and both connections stay open until the client gives up.

Connections that see no armed publish are forwarded untouched.
"""

import contextlib
import socket
import struct
import threading
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit, urlunsplit

PROTOCOL_HEADER_SIZE: Final = 8  # b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
BASIC_PUBLISH: Final = (60, 40)
_CHUNK: Final = 65_536


class Fault(StrEnum):
    DROP_CONFIRM = "drop-confirm"
    CLOSE_AFTER_PUBLISH = "close-after-publish"
    STALL = "stall"


class AmqpProxy:
    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_url = parts
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self._sockets: list[socket.socket] = []
        self.faults_injected: list[Fault] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The upstream's URL (credentials, vhost) with the proxy's address."""
        parts = self._upstream_url
        credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{self.port}"))

    def arm(self, fault: Fault, times: int = 1) -> None:
        """Inject ``fault`` at each of the next ``times`` publishes (one per connection)."""
        with self._lock:
            self._armed.extend([fault] * times)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    # -- internals ------------------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self._sockets += [client, server]
            _Pair(self, client, server).start()

    def _take_fault(self) -> Fault | None:
        with self._lock:
            if not self._armed:
                return None
            fault = self._armed.pop(0)
            self.faults_injected.append(fault)
            return fault


class _Pair:
    """One client connection and its upstream, with a pump thread each way."""

    def __init__(self, proxy: AmqpProxy, client: socket.socket, server: socket.socket) -> None:
        self._proxy = proxy
        self._client = client
        self._server = server
        self._fault: Fault | None = None
        self._mute_server = False  # drop what the broker sends
        self._mute_client = False  # drop what the client sends

    def start(self) -> None:
        threading.Thread(target=self._client_to_server, daemon=True).start()
        threading.Thread(target=self._server_to_client, daemon=True).start()

    def _close(self) -> None:
        for sock in (self._client, self._server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _server_to_client(self) -> None:
        try:
            while chunk := self._server.recv(_CHUNK):
                if not self._mute_server:
                    self._client.sendall(chunk)
        except OSError:
            pass
        if self._fault is not Fault.STALL:
            self._close()

    def _client_to_server(self) -> None:
        buffer = b""
        header_left = PROTOCOL_HEADER_SIZE
        body_left: int | None = None  # body bytes of an armed publish still to forward
        try:
            while chunk := self._client.recv(_CHUNK):
                buffer += chunk
                if header_left:
                    sent, buffer = buffer[:header_left], buffer[header_left:]
                    header_left -= len(sent)
                    self._server.sendall(sent)
                for frame_type, frame in _frames(buffer):
                    buffer = buffer[len(frame) :]
                    payload = frame[7:-1]
                    if frame_type == FRAME_METHOD and _method(payload) == BASIC_PUBLISH:
                        self._on_publish()
                    elif self._fault is Fault.CLOSE_AFTER_PUBLISH and frame_type == FRAME_HEADER:
                        body_left = struct.unpack(">Q", payload[4:12])[0]
                    if not self._mute_client:
                        self._server.sendall(frame)
                    if body_left is not None and frame_type in (FRAME_HEADER, FRAME_BODY):
                        body_left -= len(payload) if frame_type == FRAME_BODY else 0
                        if body_left <= 0:
                            self._close()
                            return
        except OSError:
            pass
        self._close()

    def _on_publish(self) -> None:
        if self._fault is not None:
            return
        self._fault = self._proxy._take_fault()
        if self._fault is None:
            return
        self._mute_server = True
        self._mute_client = self._fault is Fault.STALL


def _frames(buffer: bytes) -> list[tuple[int, bytes]]:
    """The complete frames at the start of ``buffer``."""
    frames, offset = [], 0
    while len(buffer) - offset >= 7:
        frame_type, _channel, size = struct.unpack(">BHI", buffer[offset : offset + 7])
        end = offset + 7 + size + 1
        if len(buffer) < end:
            break
        frames.append((frame_type, buffer[offset:end]))
        offset = end
    return frames


def _method(payload: bytes) -> tuple[int, int]:
    class_id, method_id = struct.unpack(">HH", payload[:4])
    return class_id, method_id
