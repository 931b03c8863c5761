"""The upstream Realtime connection, opened with the ``openai`` SDK.

The same code talks to OpenAI, Azure OpenAI and the simulator; only the base URL differs. The
session bridge sees a small ``UpstreamConnection`` (raw frames in and out) so that the relay path
parses each frame once with orjson and forwards unchanged frames untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from openai import AsyncAzureOpenAI, AsyncOpenAI
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from voxgate.transports.handle_now import HandleNow
from voxgate.transports.ws_client import RelayClientConnection

log = logging.getLogger("voxgate.upstream")


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or refused the connection."""


class UpstreamClosed(Exception):
    """The upstream connection ended; ``code`` and ``reason`` are the close frame's."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"upstream closed ({code}): {reason}")
        self.code = code
        self.reason = reason

    @property
    def retryable(self) -> bool:
        # The SDK's own list of close codes worth a reconnect (protocol-reference 13.3); 3000 is auth.
        return self.code in (None, 1001, 1005, 1006, 1011, 1012, 1013, 1015)


class UpstreamConnection(Protocol):
    async def recv(self) -> bytes: ...
    async def recv_or_rest(self) -> bytes | Awaitable[None]:
        """The next frame; or, with a handler set (``set_handler``), what the handler left of a frame
        it took, to be awaited before the next one."""
        ...

    def set_handler(self, handle: HandleNow[bytes] | None, after: Callable[[], None] | None = None) -> bool:
        """Have frames handled in the socket's callback while ``recv`` waits with nothing queued
        (``RelayClientConnection.set_handler``); ``False`` when this connection cannot."""
        ...

    async def send(self, text: str) -> None: ...
    def send_now(self, text: str) -> bool:
        """Write ``text`` without waiting, if the socket can take it now; ``False``: use ``send``."""
        ...

    def pending(self) -> int:
        """Frames already received that ``recv`` returns without waiting (0 when unknown)."""
        ...

    def flush(self) -> None:
        """Send what was written so far now instead of at the end of the loop turn."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class UpstreamConnector(Protocol):
    """Opens Realtime sessions and mints client secrets on one backend."""

    backend: str
    model: str
    description: str

    async def connect(self, *, model: str | None = None) -> UpstreamConnection: ...
    async def mint_client_secret(self, session: dict[str, Any], ttl_seconds: int) -> dict[str, Any]: ...


class _SdkConnection:
    """The SDK's connection, read and written frame by frame.

    The SDK opens the socket (URL, auth headers, Azure, ``OPENAI_BASE_URL``). On the relay path the
    frames go straight to the websockets connection it opened: the SDK's own send path adds a
    reconnect queue and a task lookup per message, and voxgate reconnects (and replays) by itself.
    """

    def __init__(self, connection: Any) -> None:
        self._conn = connection
        socket = getattr(connection, "_connection", None)
        self._recv_frame = socket.recv if socket is not None else None
        self._send_frame = socket.send if socket is not None else connection.send_raw
        relay = socket if isinstance(socket, RelayClientConnection) else None
        self._send_now = relay.send_text_now if relay is not None else None
        self._received = relay.pending_frames if relay is not None else None
        self._flush = relay.flush_now if relay is not None else None
        self._relay = relay

    def pending(self) -> int:
        return self._received() if self._received is not None else 0

    def flush(self) -> None:
        if self._flush is not None:
            self._flush()

    def set_handler(self, handle: HandleNow[bytes] | None, after: Callable[[], None] | None = None) -> bool:
        if self._relay is None:
            return False
        self._relay.set_handler(handle, after)
        return True

    async def recv(self) -> bytes:
        item = await self.recv_or_rest()
        while not isinstance(item, bytes):  # with a handler set: finish what it left first
            await item
            item = await self.recv_or_rest()
        return item

    async def recv_or_rest(self) -> bytes | Awaitable[None]:
        try:
            if self._recv_frame is not None:
                # Undecoded: a text frame comes as bytes; with a handler set, what it left of a frame.
                data: bytes | Awaitable[None] = await self._recv_frame(decode=False)
            else:
                data = await self._conn.recv_bytes()
        except ConnectionClosed as exc:
            close = exc.rcvd
            raise UpstreamClosed(close.code if close else None, close.reason if close else "") from None
        return data

    def send_now(self, text: str) -> bool:
        return self._send_now is not None and self._send_now(text.encode())

    async def send(self, text: str) -> None:
        if self.send_now(text):
            return
        try:
            await self._send_frame(text)
        except ConnectionClosed as exc:
            close = exc.rcvd
            raise UpstreamClosed(close.code if close else None, close.reason if close else "") from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            await self._conn.close(code=code, reason=reason)


@dataclass
class SdkConnector:
    """An ``UpstreamConnector`` over the SDK's ``client.realtime.connect``."""

    client: AsyncOpenAI
    model: str
    backend: str
    description: str
    connect_timeout: float = 10.0
    max_frame_bytes: int | None = None

    async def connect(self, *, model: str | None = None) -> UpstreamConnection:
        manager = self.client.realtime.connect(
            model=model or self.model,
            # No permessage-deflate: base64 audio hardly compresses and deflate would cost more CPU
            # than the whole relay.
            websocket_connection_options={
                "max_size": self.max_frame_bytes,
                "compression": None,
                "create_connection": RelayClientConnection,  # type: ignore[typeddict-unknown-key]
            },
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.connect_timeout):
                connection = await manager.enter()
        except TimeoutError:
            raise UpstreamUnavailable(
                f"no answer from {self.description} within {self.connect_timeout:g}s"
            ) from None
        except (OSError, InvalidHandshake, InvalidURI) as exc:
            raise UpstreamUnavailable(f"cannot connect to {self.description}: {exc}") from None
        log.debug("upstream connected in %.1f ms", (time.perf_counter() - started) * 1000)
        return _SdkConnection(connection)

    async def mint_client_secret(self, session: dict[str, Any], ttl_seconds: int) -> dict[str, Any]:
        try:
            secret = await self.client.realtime.client_secrets.create(
                session=session,  # type: ignore[arg-type]
                expires_after={"anchor": "created_at", "seconds": ttl_seconds},
            )
        except Exception as exc:  # the SDK raises many transport and API error types; all mean "unavailable"
            raise UpstreamUnavailable(f"{self.description} did not mint a client secret: {exc}") from None
        return secret.model_dump(mode="json", exclude_none=False)


def openai_connector(
    *,
    api_key: str,
    model: str,
    base_url: str | None = None,
    websocket_base_url: str | None = None,
    backend: str = "openai",
    connect_timeout: float = 10.0,
    max_frame_bytes: int | None = None,
) -> SdkConnector:
    client = AsyncOpenAI(
        api_key=api_key, base_url=base_url, websocket_base_url=websocket_base_url, max_retries=1
    )
    where = websocket_base_url or base_url or "api.openai.com"
    return SdkConnector(client, model, backend, f"{backend} at {where}", connect_timeout, max_frame_bytes)


def azure_connector(
    *, api_key: str, endpoint: str, api_version: str, deployment: str, connect_timeout: float = 10.0
) -> SdkConnector:
    client = AsyncAzureOpenAI(api_key=api_key, azure_endpoint=endpoint, api_version=api_version)
    return SdkConnector(client, deployment, "azure", f"Azure OpenAI at {endpoint}", connect_timeout)
