"""Handling a received message in its socket's own callback, on both sides of the relay.

The client door (``ws_server.RelayWebSocketProtocol``) and the upstream connection
(``ws_client.RelayClientConnection``) give a whole message to the app's handler at once when their
reader waits with nothing queued. The handler does what it can without waiting and returns the rest as
an awaitable (or ``None``); the connection queues that rest for the reader, which awaits it before the
next message. So messages are still handled one at a time and in order, most of them without waking a
task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

M = TypeVar("M", str | bytes, bytes)

HandleNow: TypeAlias = Callable[[M], Awaitable[None] | None]
"""Handles a message in the socket's callback; returns what must wait, or ``None``."""


def take_now(handle: HandleNow[M], message: M, loop: asyncio.AbstractEventLoop) -> Awaitable[None] | None:
    """``handle(message)``. An exception comes back as an awaitable that raises it, so that the reader
    raises it as if it had handled the message itself (a socket callback must not raise)."""
    try:
        return handle(message)
    except Exception as exc:
        failed = loop.create_future()
        failed.set_exception(exc)
        return failed


async def finish(rest: Awaitable[None] | None) -> None:
    """Await what a ``..._now`` call left, if anything: the async form of every such call."""
    if rest is not None:
        await rest
