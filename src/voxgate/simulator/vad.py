"""Energy voice activity detection over decoded samples, in 10 ms windows.

The Realtime ``threshold`` (0..1) maps linearly onto a loudness level between -60 dBFS (0.0) and
-15 dBFS (1.0); the default 0.5 is -37.5 dBFS, above a quiet line's noise and well below speech.
Speech starts after ``min_speech_ms`` of windows at or above that level; it stops after
``silence_duration_ms`` of windows below it. Times are milliseconds of appended audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

WINDOW_MS: Final = 10
MIN_DBFS: Final = -60.0
MAX_DBFS: Final = -15.0


def threshold_to_dbfs(threshold: float) -> float:
    clamped = min(1.0, max(0.0, threshold))
    return MIN_DBFS + (MAX_DBFS - MIN_DBFS) * clamped


@dataclass(frozen=True, slots=True)
class VadSettings:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    min_speech_ms: int = 50


@dataclass(frozen=True, slots=True)
class VadEvent:
    kind: Literal["start", "stop"]
    at_ms: float
    """``start``: where the first loud window began; ``stop``: the end of the trailing silence."""


class EnergyVad:
    """Streaming detector: push PCM16 samples in order, get speech start/stop events."""

    def __init__(self, settings: VadSettings, sample_rate: int, position_ms: float = 0.0) -> None:
        self.settings = settings
        self.sample_rate = sample_rate
        self._window = sample_rate * WINDOW_MS // 1000
        self._level = threshold_to_dbfs(settings.threshold)
        self._pending = np.zeros(0, dtype=np.int16)
        self._position_ms = position_ms  # the start of the next whole window
        self.speaking = False
        self._run_ms = 0.0  # loud windows in a row (idle) or quiet windows in a row (speaking)
        self._run_start_ms = 0.0

    def reset(self) -> None:
        """Forget any speech in progress (after a commit or clear); the position stays."""
        self.speaking = False
        self._run_ms = 0.0

    def push(self, pcm16: bytes) -> list[VadEvent]:
        samples = np.frombuffer(pcm16[: len(pcm16) - len(pcm16) % 2], dtype="<i2")
        if self._pending.size:
            samples = np.concatenate([self._pending, samples])
        whole = samples.size // self._window
        self._pending = samples[whole * self._window :].copy()
        if whole == 0:
            return []
        frames = samples[: whole * self._window].astype(np.float64).reshape(whole, self._window)
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        with np.errstate(divide="ignore"):
            levels = 20.0 * np.log10(rms / 32768.0)
        events: list[VadEvent] = []
        for level in levels:
            event = self._step(bool(level >= self._level))
            if event is not None:
                events.append(event)
            self._position_ms += WINDOW_MS
        return events

    def _step(self, loud: bool) -> VadEvent | None:
        if not self.speaking:
            if not loud:
                self._run_ms = 0.0
                return None
            if self._run_ms == 0.0:
                self._run_start_ms = self._position_ms
            self._run_ms += WINDOW_MS
            if self._run_ms >= self.settings.min_speech_ms:
                self.speaking = True
                self._run_ms = 0.0
                return VadEvent("start", self._run_start_ms)
            return None
        if loud:
            self._run_ms = 0.0
            return None
        self._run_ms += WINDOW_MS
        if self._run_ms >= self.settings.silence_duration_ms:
            self.speaking = False
            self._run_ms = 0.0
            return VadEvent("stop", self._position_ms + WINDOW_MS)
        return None
