"""Running ASGI apps with uvicorn: the gateway itself, the embedded simulator, test and bench servers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import uvicorn

from voxgate.transports.ws_server import RelayWebSocketProtocol

log = logging.getLogger("voxgate.serving")


GC_THRESHOLDS: Final = (10_000, 10, 10)
"""A young generation of 10,000 objects instead of 700 (the later generations keep their defaults)."""


def settle_heap() -> None:
    """Move everything loaded at start-up out of the garbage collector's sight, and collect less often.

    The SDK's protocol models, pydantic's schemas and the rest of what imports create are tens of
    thousands of long-lived objects; every full collection would walk them again. A relay allocates
    a few objects per frame, so collections run all the time: after ``gc.freeze()`` they only walk
    what was made since. With recording on, a second of records waits for the writer; at the default
    threshold (700) young collections ran several times a second at 100 sessions and promoted those
    records on their way out, so that a full collection (tens of milliseconds, a stall the relay's p99
    saw) followed every few seconds. Almost nothing on the relay path forms cycles: reference counting
    frees it, and a larger young generation lets it die before it is ever examined.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket bound before the server starts, so port 0 yields a known free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_config(
    app: Any, *, max_message_bytes: int = 16 << 20, log_level: str = "warning", ws_compression: bool = False
) -> uvicorn.Config:
    # ws_max_size makes an oversize client frame end the socket with close code 1009, before it is read.
    # permessage-deflate is declined unless asked for: browsers and websockets clients offer it by
    # default, and deflating base64 audio costs more CPU per frame than the rest of the relay, for a
    # quarter of the bytes.
    return uvicorn.Config(
        app,
        log_level=log_level,
        ws=RelayWebSocketProtocol,
        ws_max_size=max_message_bytes,
        ws_per_message_deflate=ws_compression,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=10,
    )


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process that hosts it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class GracefulServer(uvicorn.Server):
    """The process's own server: SIGTERM/SIGINT start a graceful shutdown (sessions closed, the store
    drained) and the process then exits normally instead of re-raising the signal."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@dataclass
class BackgroundServer:
    """A uvicorn server running as a task in the current event loop."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.http_url[4:]

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, timeout=15)


async def start_background_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_message_bytes: int = 16 << 20,
    ws_compression: bool = False,
) -> BackgroundServer:
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    config = uvicorn_config(app, max_message_bytes=max_message_bytes, ws_compression=ws_compression)
    server = _QuietServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # surfaces the start-up error
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    return BackgroundServer(server, task, host, actual_port)
