"""Twilio's side of the outbound audio, as data: what is queued, what has played, which marks are due.

Twilio plays the ``media`` it receives in order, in real time, and echoes a ``mark`` once everything
queued before it has played; ``clear`` discards the queue and echoes every pending mark at once
(protocol-reference 18.2). Pure: the caller says how much time passed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

BYTES_PER_MS: Final = 8  # mu-law 8 kHz


@dataclass(slots=True)
class Played:
    audio: bytes
    """Mu-law that played during the step (shorter than asked when the queue ran dry)."""
    marks: list[str]
    """Marks whose audio has now been played, in order."""


@dataclass(slots=True)
class Playout:
    _queue: deque[bytes | str] = field(default_factory=deque)  # bytes = audio, str = a mark's name
    _head_offset: int = 0  # bytes of the head audio entry already played
    queued_bytes: int = 0
    played_bytes: int = 0
    received_bytes: int = 0

    @property
    def queued_ms(self) -> float:
        return self.queued_bytes / BYTES_PER_MS

    @property
    def idle(self) -> bool:
        """Nothing left to play and no mark waiting."""
        return not self._queue

    def media(self, audio: bytes) -> None:
        if audio:
            self._queue.append(audio)
            self.queued_bytes += len(audio)
            self.received_bytes += len(audio)

    def mark(self, name: str) -> None:
        self._queue.append(name)

    def clear(self) -> list[str]:
        """Discard what has not played; returns the marks Twilio echoes for the discarded audio."""
        marks = [entry for entry in self._queue if isinstance(entry, str)]
        self._queue.clear()
        self._head_offset = 0
        self.queued_bytes = 0
        return marks

    def advance(self, ms: float) -> Played:
        """Play ``ms`` of audio (or less, if less is queued)."""
        budget = int(ms * BYTES_PER_MS)
        chunks: list[bytes] = []
        marks: list[str] = []
        queue = self._queue
        while queue:
            head = queue[0]
            if isinstance(head, str):
                marks.append(head)
                queue.popleft()
                continue
            if budget <= 0:
                break
            available = len(head) - self._head_offset
            take = min(available, budget)
            chunks.append(head[self._head_offset : self._head_offset + take])
            budget -= take
            if take == available:
                queue.popleft()
                self._head_offset = 0
            else:
                self._head_offset += take
        audio = b"".join(chunks)
        self.queued_bytes -= len(audio)
        self.played_bytes += len(audio)
        return Played(audio, marks)
