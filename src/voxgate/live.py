"""An in-process publish/subscribe feed of what happens in live sessions, for the dashboard's live view.

The recorder publishes small JSON notes (a session started or ended, a transcript grew, a tool was
called); each subscriber (a server-sent-events response) gets its own bounded queue. Publishing never
waits: a subscriber too slow to keep up loses its oldest notes and is told so with a ``gap`` note,
so one stalled browser tab cannot hold back a session's relay.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

Note = dict[str, Any]

DEFAULT_QUEUE: Final = 1000


class Subscription:
    def __init__(self, feed: LiveFeed, limit: int) -> None:
        self._feed = feed
        self._queue: asyncio.Queue[Note] = asyncio.Queue(maxsize=limit)
        self.dropped = 0

    def put(self, note: Note) -> None:
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(note)

    async def get(self, timeout: float | None = None) -> Note | None:
        """The next note; ``None`` when ``timeout`` passed first. Reports drops as a ``gap`` note."""
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            return {"kind": "gap", "dropped": dropped}
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        self._feed.unsubscribe(self)


class LiveFeed:
    def __init__(self, *, queue_limit: int = DEFAULT_QUEUE) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_limit = queue_limit

    @property
    def active(self) -> bool:
        """Whether anyone listens (publishers skip building notes when nobody does)."""
        return bool(self._subscribers)

    def publish(self, note: Note) -> None:
        for subscriber in self._subscribers:
            subscriber.put(note)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._queue_limit)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @contextlib.asynccontextmanager
    async def listening(self) -> AsyncIterator[Subscription]:
        subscription = self.subscribe()
        try:
            yield subscription
        finally:
            subscription.close()
