"""The websockets client connection the SDK opens for voxgate's upstream, tuned for relaying.

The SDK opens the socket (``websocket_connection_options`` reach ``websockets.connect``, and
``create_connection`` picks this class), so URL, headers and authentication stay the SDK's. Two
changes on top of websockets' own connection:

- Writes go through a ``CorkedTransport``: frames written during one loop turn leave in one ``send()``.
- ``send_text_now`` writes a text frame synchronously. ``Connection.send`` enters an async context
  manager, checks the state and awaits a drain for every frame, which costs as much as the frame's
  system call; a relay sending whole frames from one task needs only the checks that matter here.
  It answers ``False`` when the connection is not open or its write buffer is full, and the caller
  then awaits the ordinary ``send`` (which waits for the buffer and raises the close).
"""

from __future__ import annotations

import asyncio
from typing import cast

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

from voxgate.transports.cork import CorkedTransport


class RelayClientConnection(ClientConnection):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(CorkedTransport(cast(asyncio.Transport, transport), self.loop))

    def send_text_now(self, data: bytes) -> bool:
        if self.protocol.state is not State.OPEN or self.paused or self.fragmented_send_waiter is not None:
            return False
        self.protocol.send_text(data)
        self.send_data()
        return True
