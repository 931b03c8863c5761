"""espeak-ng as the simulator's voice, through ctypes, from the ``espeakng-loader`` wheel.

The wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data`` (English, Romanian and about a
hundred other languages), so nothing is installed outside the virtual environment and nothing is
downloaded. The library keeps one global synthesizer, so every call holds ``_LOCK``; a call runs
in C with the GIL released (ctypes), so a worker thread synthesising does not stall the event
loop. espeak-ng reports a ``WORD`` event with the sample where each word starts; words it merges
with a neighbour (``on the``) get a start interpolated between the known ones.

When the library cannot be loaded (the wheel is missing, or a platform without it) ``EspeakVoice``
speaks with the formant voice instead; that is logged once.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import soxr

from voxgate.protocol.audio import PCM_RATE
from voxgate.simulator.voice import Synthesizer, TimedSpeech, synthetic_voice

log = logging.getLogger("voxgate.simulator")

# espeak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS: Final = 2
_EVENT_LIST_TERMINATED: Final = 0
_EVENT_WORD: Final = 1
_CHARS_UTF8: Final = 1
_ENDPAUSE: Final = 0x1000
_PARAM_RATE: Final = 1
_PARAM_VOLUME: Final = 2

WORDS_PER_MINUTE: Final = 160
VOLUME: Final = 80  # of 200: espeak-ng's 100 clips on loud vowels

LANGUAGE_VOICES: Final[dict[str, str]] = {"en": "en-us", "ro": "ro"}
"""espeak-ng voice for a language code; other codes are tried as they are, then English."""

VOICE_VARIANTS: Final[dict[str, str]] = {
    "alloy": "f1", "ash": "m3", "ballad": "m2", "coral": "f3", "echo": "m1", "sage": "f4",
    "shimmer": "f5", "verse": "m4", "marin": "f2", "cedar": "m3",
}  # fmt: skip
"""A Realtime voice name's espeak-ng variant (``f``: female, ``m``: male); unknown names get ``f2``."""

CALLER_VARIANT: Final = "m6"
"""The simulated caller's voice: a male voice unlike the agents', and the one pocketsphinx hears best
through a phone line."""

_WORD = re.compile(r"\S+")


class EspeakUnavailable(RuntimeError):
    """The bundled libespeak-ng could not be loaded or initialised."""


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Library:
    """The loaded library and its one synthesizer; use it only while holding ``_LOCK``."""

    def __init__(self, folder: Path) -> None:
        try:
            lib = ctypes.CDLL(str(folder / "libespeak-ng.so"))
        except OSError as exc:
            raise EspeakUnavailable(f"cannot load libespeak-ng: {exc}") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_Callback]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(folder / "espeak-ng-data").encode(), 0)
        if rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed ({rate})")
        self.lib = lib
        self.rate = rate
        self._voice = ""
        self._samples: list[bytes] = []
        self._words: list[tuple[int, int]] = []
        self._callback = _Callback(self._on_audio)  # kept alive as long as the library
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_SetParameter(_PARAM_RATE, WORDS_PER_MINUTE, 0)
        lib.espeak_SetParameter(_PARAM_VOLUME, VOLUME, 0)

    def _on_audio(
        self, wav: ctypes._Pointer[ctypes.c_short], count: int, events: ctypes._Pointer[_Event]
    ) -> int:
        index = 0
        while events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._words.append((event.text_position - 1, event.sample))
            index += 1
        if count > 0:
            self._samples.append(ctypes.string_at(wav, count * 2))
        return 0

    def set_voice(self, name: str) -> bool:
        if name == self._voice:
            return True
        if self.lib.espeak_SetVoiceByName(name.encode()) != 0:
            return False
        self._voice = name
        return True

    def speak(self, text: str) -> tuple[bytes, list[tuple[int, int]]]:
        """PCM16 at ``self.rate`` and the ``(character, sample)`` start of each word espeak reported."""
        self._samples, self._words = [], []
        data = text.encode() + b"\0"
        status = self.lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
        self.lib.espeak_Synchronize()
        if status != 0:
            raise EspeakUnavailable(f"espeak_Synth failed ({status})")
        return b"".join(self._samples), self._words


_LOCK = threading.Lock()
_library: _Library | None = None
_failure: str | None = None


def _bundled_folder() -> Path | None:
    spec = importlib.util.find_spec("espeakng_loader")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _loaded() -> _Library:
    """The library (loaded on first use); raises ``EspeakUnavailable``. Call with ``_LOCK`` held."""
    global _library, _failure
    if _library is not None:
        return _library
    if _failure is not None:
        raise EspeakUnavailable(_failure)
    try:
        folder = _bundled_folder()
        if folder is None:
            raise EspeakUnavailable("the espeakng-loader package is not installed")
        _library = _Library(folder)
    except EspeakUnavailable as exc:
        _failure = str(exc)
        log.warning("espeak-ng is not available (%s); the simulator speaks with its formant voice", exc)
        raise
    return _library


def espeak_available() -> bool:
    """Whether the bundled espeak-ng loads here (loads it: call it off the event loop)."""
    with _LOCK:
        try:
            _loaded()
        except EspeakUnavailable:
            return False
    return True


def word_starts(text: str, reported: list[tuple[int, int]], total: int) -> tuple[tuple[int, int], ...]:
    """The start sample of every word of ``text`` from the starts espeak reported.

    A reported start belongs to the word whose characters contain it; the first report for a word
    wins, and one that would go back in time is dropped. The other words get a start interpolated
    by character position between their neighbours (the text's start is sample 0, its end ``total``).
    """
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    known: dict[int, int] = {}
    index = 0
    for char, sample in sorted(reported):
        while index < len(spans) and spans[index][1] <= char:
            index += 1
        if index == len(spans):
            break
        if spans[index][0] <= char and index not in known:
            known[index] = sample
    accepted: list[tuple[int, int]] = []
    for number in sorted(known):
        sample = known[number]
        if (accepted[-1][1] if accepted else 0) <= sample <= total:
            accepted.append((number, sample))
    exact = dict(accepted)
    chars = np.array([0.0, *(spans[n][0] for n, _ in accepted), float(len(text))])
    samples = np.array([0.0, *(float(s) for _, s in accepted), float(total)])
    result: list[tuple[int, int]] = []
    for number, (start, _) in enumerate(spans):
        found = exact.get(number)
        result.append((start, found if found is not None else int(np.interp(start, chars, samples))))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class EspeakVoice:
    """espeak-ng in the session's language; a ``TimedSynthesizer``. Hashable, so audio is cached."""

    variant: str = "f2"
    fallback_voice: str = "marin"

    @classmethod
    def for_voice(cls, voice: str) -> EspeakVoice:
        return cls(VOICE_VARIANTS.get(voice, "f2"), voice)

    @property
    def fallback(self) -> Synthesizer:
        return synthetic_voice(self.fallback_voice)

    def synthesize(self, text: str, language: str) -> bytes:
        return self.synthesize_timed(text, language).pcm

    def synthesize_timed(self, text: str, language: str) -> TimedSpeech:
        if not text.strip():
            return TimedSpeech(b"", tuple((m.start(), 0) for m in _WORD.finditer(text)))
        with _LOCK:
            try:
                library = _loaded()
            except EspeakUnavailable:
                library = None
            if library is not None:
                pcm, reported = self._speak(library, text, language)
        if library is None:
            return self._fallback_speech(text, language)
        samples = np.frombuffer(pcm, dtype="<i2")
        resampled = np.asarray(soxr.resample(samples, library.rate, PCM_RATE, quality="HQ"), dtype="<i2")
        scale = PCM_RATE / library.rate
        starts = word_starts(text, [(c, round(s * scale)) for c, s in reported], len(resampled))
        return TimedSpeech(resampled.tobytes(), starts)

    def _speak(self, library: _Library, text: str, language: str) -> tuple[bytes, list[tuple[int, int]]]:
        base = LANGUAGE_VOICES.get(language, language or "en-us")
        for name in (f"{base}+{self.variant}", base, f"en-us+{self.variant}"):
            if library.set_voice(name):
                break
        return library.speak(text)

    def _fallback_speech(self, text: str, language: str) -> TimedSpeech:
        """The formant voice, word by word, so the word starts are exact."""
        voice = self.fallback
        pieces: list[bytes] = []
        starts: list[tuple[int, int]] = []
        at = 0
        for match in _WORD.finditer(text):
            starts.append((match.start(), at))
            audio = voice.synthesize(text[match.start() : match.end()], language)
            pieces.append(audio)
            at += len(audio) // 2
        return TimedSpeech(b"".join(pieces), tuple(starts))


def caller_speech(text: str, language: str) -> bytes:
    """``text`` as the simulated caller says it, PCM16 mono 24 kHz (``voxgate call --say``).

    espeak-ng's ``m6`` voice, or the formant voice at a low pitch when espeak-ng is missing.
    """
    return EspeakVoice(CALLER_VARIANT, "cedar").synthesize(text, language)
