"""The simulated caller's voice and ears: text or a WAV file in, mu-law 8 kHz out; recordings back to WAV.

``synthesize_speech`` is the one place speech is made (offline: espeak-ng, else a formant voice);
another TTS engine can replace it here without touching the rest of the caller.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from voxgate.protocol.audio import PCM_RATE, pcm16_to_ulaw, ulaw_to_pcm16

TWILIO_RATE = 8000


class AudioFileError(ValueError):
    """A WAV file the caller cannot speak."""


def _resample(pcm16: bytes, rate_in: int, rate_out: int) -> bytes:
    if rate_in == rate_out or not pcm16:
        return pcm16
    samples = np.frombuffer(pcm16, dtype="<i2")
    return bytes(np.asarray(soxr.resample(samples, rate_in, rate_out, quality="HQ"), dtype="<i2").tobytes())


def pcm16_to_twilio(pcm16: bytes, rate: int) -> bytes:
    """Linear 16-bit mono at ``rate`` as Twilio's mu-law 8 kHz."""
    return pcm16_to_ulaw(_resample(pcm16, rate, TWILIO_RATE))


def synthesize_speech(text: str, language: str) -> bytes:
    """``text`` spoken in ``language`` (``ro``, ``en``) as mu-law 8 kHz.

    espeak-ng (bundled by the ``espeakng-loader`` wheel, through the simulator's voice module), or the
    simulator's formant voice when the library cannot be loaded.
    """
    from voxgate.simulator.espeak import caller_speech

    return pcm16_to_twilio(caller_speech(text, language), PCM_RATE)


def read_wav(path: str | Path) -> bytes:
    """A 16-bit PCM WAV file (any rate, mono or stereo) as mu-law 8 kHz mono."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"{path}: not a PCM WAV file ({exc})") from None
    except OSError as exc:
        raise AudioFileError(f"{path}: {exc.strerror or exc}") from None
    if width != 2:
        raise AudioFileError(f"{path}: {8 * width}-bit samples; only 16-bit PCM is supported")
    samples = np.frombuffer(frames, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype("<i2")
    return pcm16_to_twilio(samples.tobytes(), rate)


def write_wav(path: str | Path, ulaw: bytes) -> None:
    """Mu-law 8 kHz as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(TWILIO_RATE)
        wav.writeframes(ulaw_to_pcm16(ulaw))
