"""The baseline: a minimal forwarding relay written with ``websockets`` and nothing else.

Each client connection gets its own upstream connection; frames are copied both ways untouched.
This is the floor a Python gateway is compared against in ``voxgate bench relay``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


async def _pump(source: object, sink: object) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for frame in source:  # type: ignore[attr-defined]
            await sink.send(frame)  # type: ignore[attr-defined]


def _handler(upstream_url: str) -> object:
    async def handle(client: ServerConnection) -> None:
        headers = {"Authorization": "Bearer bare-relay"}
        async with connect(upstream_url, additional_headers=headers, max_size=None, compression=None) as up:
            tasks = [asyncio.create_task(_pump(client, up)), asyncio.create_task(_pump(up, client))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    return handle


async def run(
    host: str, port: int, upstream_url: str, make_handler: Callable[[str], object] = _handler
) -> None:
    async with serve(make_handler(upstream_url), host, port, max_size=None, compression=None):  # type: ignore[arg-type]
        print(f"relay listening on {host}:{port}", flush=True)
        await asyncio.Future()


def main(make_handler: Callable[[str], object] = _handler) -> None:
    """The command line of a baseline relay process (this one, and the phone benchmark's)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="ws://HOST:PORT/v1/realtime?model=...")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.host, args.port, args.upstream, make_handler))


if __name__ == "__main__":
    main()
