"""Speech synthesis for the simulator, behind a one-method interface.

``Synthesizer.synthesize(text, language)`` returns PCM16 mono at 24 kHz. A synthesizer that can
also say where each word starts (``TimedSynthesizer.synthesize_timed``) speaks a whole message at
once, with natural phrasing, and the planner cuts it into word chunks at those marks.

The default voice (``default_voice``) is espeak-ng, bundled by the ``espeakng-loader`` wheel and
driven in ``espeak.py``. ``SyntheticVoice`` is the fallback that needs nothing: each syllable is a
short voiced tone whose harmonics are shaped by two vowel formants, about 14 characters a second,
with pauses at spaces and punctuation, smooth fades (no clicks) and a low level.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from voxgate.protocol.audio import PCM_RATE
from voxgate.simulator.lang import fold

FloatArray = npt.NDArray[np.float64]


class Synthesizer(Protocol):
    def synthesize(self, text: str, language: str) -> bytes:
        """PCM16 mono 24 kHz audio of ``text`` spoken in ``language``."""
        ...


@dataclass(frozen=True, slots=True)
class TimedSpeech:
    """Speech with its word timeline: where each word of the text starts in the audio."""

    pcm: bytes
    """PCM16 mono 24 kHz."""
    word_starts: tuple[tuple[int, int], ...]
    """``(character offset in the text, sample offset in pcm)`` of every word, in order; both rise."""


@runtime_checkable
class TimedSynthesizer(Synthesizer, Protocol):
    def synthesize_timed(self, text: str, language: str) -> TimedSpeech:
        """``text`` spoken as one utterance, with the start of every word (``\\S+``) in it."""
        ...


# (F1, F2) in Hz for the vowel that colours a syllable.
_FORMANTS: Final[dict[str, tuple[float, float]]] = {
    "a": (800.0, 1250.0),
    "e": (500.0, 1850.0),
    "i": (320.0, 2250.0),
    "o": (520.0, 900.0),
    "u": (350.0, 800.0),
    "y": (330.0, 2100.0),
}
_PAUSE_MS: Final[dict[str, float]] = {
    " ": 70.0,
    ",": 200.0,
    ";": 220.0,
    ":": 220.0,
    ".": 320.0,
    "!": 320.0,
    "?": 320.0,
}
_SYLLABLE = re.compile(r"[^aeiouy]*[aeiouy]+(?:[^aeiouy]*$)?")
_FRICATIVES: Final = frozenset("sfzhxcj")

VOICE_PITCH_HZ: Final[dict[str, float]] = {
    "alloy": 165.0, "ash": 118.0, "ballad": 128.0, "coral": 205.0, "echo": 112.0, "sage": 190.0,
    "shimmer": 215.0, "verse": 135.0, "marin": 195.0, "cedar": 108.0,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyntheticVoice:
    """A deterministic, pleasant-enough formant voice (no external engine)."""

    pitch_hz: float = 190.0
    chars_per_second: float = 14.0
    level: float = 0.16  # peak amplitude as a fraction of full scale (about -16 dBFS)
    rate: int = PCM_RATE

    def synthesize(self, text: str, language: str) -> bytes:
        pieces: list[FloatArray] = []
        char_ms = 1000.0 / self.chars_per_second
        tokens = re.findall(r"[^\W_]+|[^\w\s]|\s+", text)
        spoken = [t for t in tokens if t[0].isalnum()]
        position, total = 0, max(1, len(spoken))
        for token in tokens:
            if token[0].isalnum():
                # pitch falls gently over the sentence, and rises at the end of a question
                progress = position / total
                pitch = self.pitch_hz * (1.06 - 0.12 * progress)
                if text.rstrip().endswith("?") and position == total - 1:
                    pitch *= 1.12
                pieces.append(self._word(token, pitch, char_ms))
                position += 1
            else:
                pause = max((_PAUSE_MS.get(ch, 0.0) for ch in token), default=0.0)
                if pause:
                    pieces.append(np.zeros(int(self.rate * pause / 1000.0)))
        if not pieces:
            return b""
        signal = np.concatenate(pieces)
        pcm = np.clip(signal * self.level * 32767.0, -32768, 32767).astype("<i2")
        return pcm.tobytes()

    def _word(self, word: str, pitch: float, char_ms: float) -> FloatArray:
        folded = fold(word)
        syllables = _SYLLABLE.findall(folded) or [folded]
        total_ms = max(90.0, len(folded) * char_ms)
        weights = np.array([max(1, len(s)) for s in syllables], dtype=np.float64)
        durations = total_ms * weights / weights.sum()
        parts = []
        for index, (syllable, ms) in enumerate(zip(syllables, durations, strict=True)):
            vowel = next((ch for ch in syllable if ch in _FORMANTS), "a")
            contour = 1.0 + 0.04 * np.sin(np.pi * index / max(1, len(syllables)))
            seed = zlib.crc32(syllable.encode())
            parts.append(self._syllable(_FORMANTS[vowel], pitch * contour, ms, syllable, seed))
        return np.concatenate(parts)

    def _syllable(
        self, formants: tuple[float, float], f0: float, ms: float, letters: str, seed: int
    ) -> FloatArray:
        n = max(1, int(self.rate * ms / 1000.0))
        t = np.arange(n) / self.rate
        signal = np.zeros(n)
        harmonics = int(3800.0 // f0)
        for k in range(1, harmonics + 1):
            freq = k * f0
            gain = sum(1.0 / (1.0 + ((freq - f) / (0.12 * f + 60.0)) ** 2) for f in formants)
            signal += (gain / k**0.5) * np.sin(2 * np.pi * freq * t + 0.3 * k)
        peak = float(np.max(np.abs(signal))) or 1.0
        signal /= peak
        if any(ch in _FRICATIVES for ch in letters):
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(n) * 0.08
            onset = np.exp(-t / 0.03)
            signal = signal * (1.0 - 0.5 * onset) + noise * onset
        return signal * _envelope(n, self.rate)


def _envelope(n: int, rate: int) -> FloatArray:
    """Raised-cosine fade in and out (12 ms each) so syllables join without clicks."""
    fade = min(n // 2, int(rate * 0.012))
    env = np.ones(n)
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
        env[:fade] = ramp
        env[n - fade :] = ramp[::-1]
    return env


def synthetic_voice(voice: str) -> Synthesizer:
    """The formant voice for a Realtime voice name (each voice gets its own pitch)."""
    return SyntheticVoice(pitch_hz=VOICE_PITCH_HZ.get(voice, 180.0))


def default_voice(voice: str) -> Synthesizer:
    """The simulator's voice: espeak-ng speaking as ``voice``, or the formant voice without espeak-ng.

    Nothing is loaded here (this runs on the event loop); the engine is loaded by the first
    synthesis, in a worker thread, and falls back to ``synthetic_voice(voice)`` (logged once).
    """
    from voxgate.simulator.espeak import EspeakVoice

    return EspeakVoice.for_voice(voice)
