"""Moving audio between the synthesizer's PCM16 24 kHz and the session's wire formats."""

from __future__ import annotations

import numpy as np
import soxr

from voxgate.protocol.audio import PCM_RATE, SAMPLE_RATE, decode_to_pcm16, encode_from_pcm16


def resample(pcm16: bytes, in_rate: int, out_rate: int) -> bytes:
    """One-shot resampling of a whole PCM16 mono clip."""
    if in_rate == out_rate or not pcm16:
        return pcm16
    samples = np.frombuffer(pcm16, dtype="<i2")
    out = soxr.resample(samples, in_rate, out_rate, quality="HQ")
    return bytes(np.asarray(out, dtype="<i2").tobytes())


def from_pcm24k(pcm16: bytes, fmt: str) -> bytes:
    """PCM16 24 kHz into ``fmt`` (``audio/pcm``, ``audio/pcmu`` or ``audio/pcma``)."""
    return encode_from_pcm16(resample(pcm16, PCM_RATE, SAMPLE_RATE[fmt]), fmt)


def to_pcm24k(data: bytes, fmt: str) -> bytes:
    """Audio in ``fmt`` as PCM16 24 kHz."""
    return resample(decode_to_pcm16(data, fmt), SAMPLE_RATE[fmt], PCM_RATE)
