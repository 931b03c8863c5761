"""The input audio buffer: appended audio, the audio clock, and the VAD that listens to it.

Times are milliseconds of audio appended since the session started (never wall-clock time). The
buffer holds what has not been committed yet; ``take(end_ms)`` commits up to ``end_ms`` and keeps
the rest for the next turn.
"""

from __future__ import annotations

from typing import Final

from voxgate.protocol.audio import SAMPLE_RATE, bytes_for_ms, decode_to_pcm16, duration_ms
from voxgate.protocol.realtime import JSON
from voxgate.simulator.session_config import SEMANTIC_SILENCE_MS
from voxgate.simulator.vad import EnergyVad, VadEvent, VadSettings

MAX_BUFFER_MS: Final = 5 * 60 * 1000.0


def vad_settings(turn_detection: JSON) -> VadSettings:
    if turn_detection.get("type") == "semantic_vad":
        eagerness = str(turn_detection.get("eagerness") or "auto")
        return VadSettings(silence_duration_ms=SEMANTIC_SILENCE_MS.get(eagerness, 700))
    return VadSettings(
        threshold=float(turn_detection.get("threshold", 0.5)),
        prefix_padding_ms=int(turn_detection.get("prefix_padding_ms", 300)),
        silence_duration_ms=int(turn_detection.get("silence_duration_ms", 500)),
    )


class InputAudio:
    def __init__(self, fmt: str, turn_detection: JSON | None) -> None:
        self.format = fmt
        self.clock_ms = 0.0  # all audio appended so far
        self.buffer = bytearray()
        self.buffer_start_ms = 0.0
        self.speech_item_id: str | None = None
        self.vad: EnergyVad | None = None
        self.configure(fmt, turn_detection)

    def configure(self, fmt: str, turn_detection: JSON | None) -> None:
        """A new format or turn-detection setting; a format change empties the buffer."""
        if fmt != self.format:
            self.format = fmt
            self.clear()
        self.speech_item_id = None
        self.vad = (
            EnergyVad(vad_settings(turn_detection), SAMPLE_RATE[fmt], self.clock_ms)
            if turn_detection is not None
            else None
        )

    @property
    def buffered_ms(self) -> float:
        return duration_ms(len(self.buffer), self.format)

    def append(self, data: bytes) -> list[VadEvent]:
        self.buffer.extend(data)
        self.clock_ms += duration_ms(len(data), self.format)
        events = self.vad.push(decode_to_pcm16(data, self.format)) if self.vad is not None else []
        if self.buffered_ms > MAX_BUFFER_MS and not self.speaking:
            self.drop_before(self.clock_ms - MAX_BUFFER_MS)
        return events

    @property
    def speaking(self) -> bool:
        return self.vad is not None and self.vad.speaking

    def drop_before(self, start_ms: float) -> None:
        """Forget buffered audio before ``start_ms``."""
        if start_ms <= self.buffer_start_ms:
            return
        cut = min(len(self.buffer), bytes_for_ms(start_ms - self.buffer_start_ms, self.format))
        del self.buffer[:cut]
        self.buffer_start_ms += duration_ms(cut, self.format)

    def take(self, end_ms: float | None = None) -> bytes:
        """Commit the buffer up to ``end_ms`` (all of it when None); the rest stays buffered."""
        if end_ms is None:
            cut = len(self.buffer)
        else:
            cut = min(len(self.buffer), bytes_for_ms(max(0.0, end_ms - self.buffer_start_ms), self.format))
        taken = bytes(self.buffer[:cut])
        del self.buffer[:cut]
        self.buffer_start_ms += duration_ms(cut, self.format)
        if self.vad is not None and end_ms is None:
            self.vad.reset()
        return taken

    def clear(self) -> None:
        self.buffer.clear()
        self.buffer_start_ms = self.clock_ms
        self.speech_item_id = None
        if self.vad is not None:
            self.vad.reset()
