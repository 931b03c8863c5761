"""The simulator, paced in real time, with a probe that timestamps every audio delta it sends.

``voxgate bench calls`` runs this as a child process. Each ``response.output_audio.delta`` is stamped
with ``time.monotonic()`` just before it is written to the socket, keyed by ``(item_id, bytes of the
item so far)``. CLOCK_MONOTONIC is one clock for every process on a Linux machine, so the load
generator can subtract these stamps from the arrival times of the marks that follow the delta's
frames at the simulated Twilio end: the delay through the relay in between.

- ``GET /_bench/emissions``: ``{item_id: [[bytes_so_far, monotonic_seconds], ...]}``
- ``POST /_bench/reset``: forget them (between measurements).
"""

from __future__ import annotations

import argparse
import binascii
import contextlib
import time
from typing import Any

import orjson
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxgate.serving import bind_socket, uvicorn_config
from voxgate.simulator import SimulatorOptions, create_simulator_app

_DELTA = b'"response.output_audio.delta"'


class EmissionProbe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.emissions: dict[str, list[tuple[int, float]]] = {}
        self._sizes: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/_bench/"):
            await self._control(scope, send)
            return
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def probed(message: Message) -> None:
            if message["type"] == "websocket.send":
                text = message.get("text")
                if text is not None and _DELTA in text[:80].encode():
                    self._stamp(text, time.monotonic())
            await send(message)

        await self.app(scope, receive, probed)

    def _stamp(self, text: str, now: float) -> None:
        event = orjson.loads(text)
        item = event["item_id"]
        size = len(binascii.a2b_base64(event["delta"]))
        total = self._sizes[item] = self._sizes.get(item, 0) + size
        self.emissions.setdefault(item, []).append((total, now))

    async def _control(self, scope: Scope, send: Send) -> None:
        body: Any = {"ok": True}
        if scope["path"] == "/_bench/emissions":
            body = self.emissions
        elif scope["path"] == "/_bench/reset":
            self.emissions, self._sizes = {}, {}
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    parser = argparse.ArgumentParser(description="the realtime simulator with an audio emission probe")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = EmissionProbe(create_simulator_app(SimulatorOptions(pace="realtime")))
    sock = bind_socket(args.host, args.port)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(uvicorn_config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
