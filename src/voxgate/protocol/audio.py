"""Audio formats of the Realtime API and Twilio: G.711 codecs, durations, framing.

Pure functions over bytes; the streaming resampler keeps its filter state between calls so that
20 ms frames resample without clicks at their edges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

with warnings.catch_warnings():
    # audioop is deprecated in 3.11-3.12 and provided by audioop-lts from 3.13 on; same C code either way.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

AudioFormat = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]

PCM_RATE: Final = 24_000
G711_RATE: Final = 8_000

BYTES_PER_MS: Final[dict[str, float]] = {"audio/pcm": 48.0, "audio/pcmu": 8.0, "audio/pcma": 8.0}
SAMPLE_RATE: Final[dict[str, int]] = {"audio/pcm": PCM_RATE, "audio/pcmu": G711_RATE, "audio/pcma": G711_RATE}

BETA_FORMAT_NAMES: Final[dict[str, AudioFormat]] = {
    "pcm16": "audio/pcm",
    "g711_ulaw": "audio/pcmu",
    "g711_alaw": "audio/pcma",
}
GA_TO_BETA_FORMAT: Final[dict[str, str]] = {v: k for k, v in BETA_FORMAT_NAMES.items()}


def duration_ms(num_bytes: int, fmt: str) -> float:
    """How long ``num_bytes`` of audio in ``fmt`` plays."""
    return num_bytes / BYTES_PER_MS[fmt]


def bytes_for_ms(ms: float, fmt: str) -> int:
    """Whole samples' worth of bytes for ``ms`` of audio in ``fmt``."""
    size = int(ms * BYTES_PER_MS[fmt])
    return size - size % 2 if fmt == "audio/pcm" else size


def ulaw_to_pcm16(data: bytes) -> bytes:
    return audioop.ulaw2lin(data, 2)


def pcm16_to_ulaw(data: bytes) -> bytes:
    return audioop.lin2ulaw(data, 2)


def alaw_to_pcm16(data: bytes) -> bytes:
    return audioop.alaw2lin(data, 2)


def pcm16_to_alaw(data: bytes) -> bytes:
    return audioop.lin2alaw(data, 2)


def decode_to_pcm16(data: bytes, fmt: str) -> bytes:
    """Linear 16-bit samples at the format's own rate."""
    if fmt == "audio/pcmu":
        return ulaw_to_pcm16(data)
    if fmt == "audio/pcma":
        return alaw_to_pcm16(data)
    return data


def encode_from_pcm16(data: bytes, fmt: str) -> bytes:
    """Encode linear 16-bit samples (already at the format's rate) into ``fmt``."""
    if fmt == "audio/pcmu":
        return pcm16_to_ulaw(data)
    if fmt == "audio/pcma":
        return pcm16_to_alaw(data)
    return data


def rms_dbfs(pcm16: bytes) -> float:
    """Loudness of a block of 16-bit samples in dB relative to full scale (silence is -inf)."""
    if len(pcm16) < 2:
        return float("-inf")
    rms = audioop.rms(pcm16, 2)
    if rms == 0:
        return float("-inf")
    return float(20.0 * np.log10(rms / 32768.0))


class StreamingResampler:
    """A soxr stream resampler for 16-bit mono audio that keeps its filter state across calls."""

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        import soxr  # imported here: only the transcoding path needs it

        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)

    def process(self, pcm16: bytes, *, last: bool = False) -> bytes:
        samples = np.frombuffer(pcm16, dtype=np.int16)
        out = self._stream.resample_chunk(samples, last=last)
        return bytes(np.asarray(out, dtype=np.int16).tobytes())

    def reset(self) -> None:
        """Forget the filter state (and a finished stream), ready for an unrelated stream."""
        self._stream.clear()


class StreamConverter:
    """Converts a stream of audio chunks from one Realtime format to another.

    State is kept between chunks (the resampler's filter memory, half a 16-bit sample split across
    two chunks), so a stream cut at arbitrary points converts exactly as if it came in one piece.
    Equal formats pass bytes through untouched.
    """

    def __init__(self, source: AudioFormat, target: AudioFormat, quality: str = "HQ") -> None:
        self.source = source
        self.target = target
        self.passthrough = source == target
        rate_in, rate_out = SAMPLE_RATE[source], SAMPLE_RATE[target]
        self._resampler = (
            StreamingResampler(rate_in, rate_out, quality)
            if rate_in != rate_out and not self.passthrough
            else None
        )
        self._odd = b""

    def process(self, data: bytes) -> bytes:
        if self.passthrough:
            return data
        if self.source == "audio/pcm":
            if self._odd:
                data = self._odd + data
                self._odd = b""
            if len(data) % 2:
                self._odd = data[-1:]
                data = data[:-1]
        pcm = decode_to_pcm16(data, self.source)
        if self._resampler is not None:
            pcm = self._resampler.process(pcm)
        return encode_from_pcm16(pcm, self.target) if pcm else b""

    def flush(self) -> bytes:
        """End of the stream: what the resampler still holds. The converter is then ready for a new one."""
        self._odd = b""
        if self._resampler is None:
            return b""
        pcm = self._resampler.process(b"", last=True)
        self._resampler.reset()
        return encode_from_pcm16(pcm, self.target) if pcm else b""

    def reset(self) -> None:
        """Drop whatever is buffered (audio that will never be played)."""
        self._odd = b""
        if self._resampler is not None:
            self._resampler.reset()


@dataclass(slots=True)
class FrameSplitter:
    """Cuts a byte stream into fixed-size frames, keeping the remainder for the next push."""

    frame_bytes: int
    _pending: bytearray | None = None

    def push(self, data: bytes) -> list[bytes]:
        if self._pending is None:
            self._pending = bytearray()
        self._pending.extend(data)
        count = len(self._pending) // self.frame_bytes
        if count == 0:
            return []
        cut = count * self.frame_bytes
        chunk = bytes(self._pending[:cut])
        del self._pending[:cut]
        return [chunk[i : i + self.frame_bytes] for i in range(0, cut, self.frame_bytes)]

    def flush(self) -> bytes:
        """What is left, shorter than a frame."""
        rest = bytes(self._pending or b"")
        self._pending = bytearray()
        return rest

    @property
    def pending(self) -> int:
        return len(self._pending or b"")
