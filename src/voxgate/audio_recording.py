"""Audio kept per conversation item as WAV files (``VOXGATE_RECORD_AUDIO``).

On the relay path ``ItemAudio`` only keeps references to the base64 chunks it sees (no decoding, no
copies): the user's ``input_audio_buffer.append`` chunks until the upstream commits them into an item,
the assistant's ``response.output_audio.delta`` chunks per item until ``response.output_audio.done``.
A finished item becomes a ``Clip``; ``write_wav`` decodes and writes it in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import re
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from voxgate.protocol.audio import SAMPLE_RATE, decode_to_pcm16

MAX_PENDING_INPUT_CHUNKS: Final = 30_000
"""About 10 minutes of 20 ms chunks: input never committed (no VAD, no commit) is not kept forever."""

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(slots=True)
class Clip:
    session_id: str
    item_id: str
    role: str
    fmt: str
    position: int
    chunks: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ItemAudio:
    """One session's audio on its way to WAV files."""

    session_id: str
    pending_input: list[str] = field(default_factory=list)
    output: dict[str, list[str]] = field(default_factory=dict)

    def add_input(self, chunk: str) -> None:
        if len(self.pending_input) < MAX_PENDING_INPUT_CHUNKS:
            self.pending_input.append(chunk)

    def clear_input(self) -> None:
        self.pending_input = []

    def commit_input(self, item_id: str, fmt: str, position: int) -> Clip | None:
        chunks, self.pending_input = self.pending_input, []
        return Clip(self.session_id, item_id, "user", fmt, position, chunks) if chunks else None

    def add_output(self, item_id: str, chunk: str) -> None:
        self.output.setdefault(item_id, []).append(chunk)

    def finish_output(self, item_id: str, fmt: str, position: int) -> Clip | None:
        chunks = self.output.pop(item_id, None)
        return Clip(self.session_id, item_id, "assistant", fmt, position, chunks) if chunks else None

    def drain(self, fmt: str, positions: dict[str, int]) -> list[Clip]:
        """What is left when the session ends (an answer cut off by the end of the call)."""
        clips = [
            Clip(self.session_id, item, "assistant", fmt, positions.get(item, 0), chunks)
            for item, chunks in self.output.items()
            if chunks
        ]
        self.output = {}
        self.pending_input = []
        return clips


def clip_path(directory: Path, clip: Clip) -> Path:
    folder = directory / _UNSAFE.sub("_", clip.session_id)
    return folder / f"{clip.position:04d}_{clip.role}_{_UNSAFE.sub('_', clip.item_id)}.wav"


def write_wav(directory: Path, clip: Clip) -> tuple[Path, int]:
    """Decode and write ``clip`` (blocking: run it in a thread). Returns the file and its length in ms."""
    raw = bytearray()
    for chunk in clip.chunks:
        try:
            raw += base64.b64decode(chunk)
        except (binascii.Error, ValueError):  # a malformed chunk the upstream refused too: skip it
            continue
    fmt = clip.fmt if clip.fmt in SAMPLE_RATE else "audio/pcm"
    pcm = decode_to_pcm16(bytes(raw), fmt)
    if len(pcm) % 2:
        pcm = pcm[:-1]
    rate = SAMPLE_RATE[fmt]
    path = clip_path(directory, clip)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path, round(len(pcm) / 2 / rate * 1000)
