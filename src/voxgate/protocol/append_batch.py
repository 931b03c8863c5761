"""Client audio appends held for a few milliseconds and sent upstream as one.

Browsers and apps commonly stream 20 ms of microphone audio per ``input_audio_buffer.append``: fifty
events a second, each a frame to mask, a system call and a parse at the other end, for audio the
upstream only needs in order. The gateway validates, records and hooks every append as it arrives,
then holds its audio and forwards the held audio as one append when the oldest chunk has waited the
batch window, before any other event of the session goes upstream (so order is kept and a commit,
clear or response.create never overtakes audio sent before it), and when the session closes.

This module is the pure part: the held chunks and the merged event. Base64 strings whose decoded
length is a multiple of three carry no padding and join as they are; otherwise the chunks are decoded
and encoded again as one.
"""

from __future__ import annotations

import binascii
from typing import Final

from voxgate.protocol.realtime import dumps

MAX_HELD_CHARS: Final = 256 * 1024
"""Base64 characters held before sending without waiting for the window (about 4 s of PCM16)."""


class AppendBatch:
    __slots__ = ("_chunks", "_event_id", "_padded", "chars", "started_at")

    def __init__(self) -> None:
        self._chunks: list[str] = []
        self._event_id: str | None = None
        self._padded = False
        self.chars = 0
        self.started_at = 0.0
        """When the oldest held chunk arrived (the clock of the caller)."""

    def __bool__(self) -> bool:
        return bool(self._chunks)

    @property
    def chunks(self) -> int:
        return len(self._chunks)

    def add(self, audio: str, event_id: str | None, now: float) -> None:
        if not self._chunks:
            self.started_at = now
            self._event_id = event_id
        elif self._chunks[-1].endswith("="):
            self._padded = True  # padding inside the joined string: decode and encode again
        self._chunks.append(audio)
        self.chars += len(audio)

    @property
    def full(self) -> bool:
        return self.chars >= MAX_HELD_CHARS

    def take(self) -> str:
        """The held audio as one ``input_audio_buffer.append`` frame (first chunk's event_id); empties."""
        if self._padded:
            joined = b"".join(binascii.a2b_base64(chunk) for chunk in self._chunks)
            audio = binascii.b2a_base64(joined, newline=False).decode("ascii")
        else:
            audio = "".join(self._chunks)
        event: dict[str, str] = {"type": "input_audio_buffer.append", "audio": audio}
        if self._event_id is not None:
            event["event_id"] = self._event_id
        self._chunks, self._event_id, self._padded = [], None, False
        self.chars = 0
        return dumps(event)
