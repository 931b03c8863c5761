"""English speech recognition for the simulator: pocketsphinx, with the model its wheel ships.

The acoustic model is pocketsphinx's US English one (16 kHz). Its language model here is not the
general one (slow, and it hears little through a phone line) but one built, on first use, from
the sentences callers of a bar and a salon say (``speech_corpus.py``), with a dictionary cut down
to those words: the decoder loads in milliseconds and decodes a sentence in a fraction of a second.

Two things make a committed turn much easier for it to hear: the silence around the speech is
cut off (digital silence upsets its feature normalisation; a turn comes with 300 ms of padding
before and up to 500 ms after), and phone audio (8 kHz, upsampled), which has nothing above 4 kHz
where the acoustic model was trained to expect something, gets a faint noise floor there.

pocketsphinx holds the GIL while it decodes, so ``SphinxRecognizer`` is ``process_bound``: the
simulator runs it in a worker process (``workers.py``), where the decoder is built once and kept.
Other languages go to the ``fallback`` recogniser (no Romanian model ships in any wheel).
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import soxr

from voxgate.protocol.audio import PCM_RATE
from voxgate.simulator.hearing import PlaceholderRecognizer, Recognizer
from voxgate.simulator.speech_corpus import sentences

log = logging.getLogger("voxgate.simulator")

DECODER_RATE: Final = 16_000
PHONE_BAND_HZ: Final = 4_000.0
NOISE_FLOOR: Final = 30.0  # standard deviation, in 16-bit sample units, of the noise put above 4 kHz
MIN_SPEECH_SAMPLES: Final = DECODER_RATE // 10
FRAME: Final = DECODER_RATE // 50  # 20 ms
SPEECH_LEVEL: Final = 0.05  # a frame is speech when its RMS reaches this fraction of the loudest frame's
QUIET_RMS: Final = 50.0  # ... and this, in 16-bit sample units
MARGIN: Final = int(DECODER_RATE * 0.15)  # kept around the speech

EXTRA_PRONUNCIATIONS: Final[dict[str, str]] = {
    "aperol": "AE P ER AO L",
    "ioana": "Y OW AA N AH",
    "mojito": "M OW HH IY T OW",
    "mojitos": "M OW HH IY T OW Z",
    "popescu": "P OW P EH S K UW",
    "prosecco": "P R OW S EH K OW",
    "spritz": "S P R IH T S",
}
"""Corpus words the CMU dictionary lacks (menu items and names), in its phone set."""


class SphinxUnavailable(RuntimeError):
    """pocketsphinx is not installed, or its model could not be loaded."""


_lock = threading.Lock()
_decoder: Any = None
_failure: str | None = None
_model_folder: tempfile.TemporaryDirectory[str] | None = None  # removed when the process exits


def build_model(folder: Path) -> tuple[Path, Path]:
    """Write the corpus's language model (ARPA) and its dictionary into ``folder``."""
    from pocketsphinx import get_model_path  # type: ignore[import-untyped]
    from pocketsphinx.lm import ArpaBoLM  # type: ignore[import-untyped]

    text = "\n".join(sentences())
    model = ArpaBoLM(text=text, add_start=True, discount_mass=0.5)
    model.compute()
    arpa = io.StringIO()
    model.write(arpa)
    lm_path = folder / "domain.arpa"
    lm_path.write_text(arpa.getvalue(), encoding="utf-8")
    vocabulary = set(text.split())
    lines: list[str] = []
    known: set[str] = set()
    with open(get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as cmudict:
        for line in cmudict:
            word = line.split(" ", 1)[0]
            base = word.split("(", 1)[0]
            if base in vocabulary:
                lines.append(line.rstrip("\n"))
                known.add(base)
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        if word in vocabulary and word not in known:
            lines.append(f"{word} {phones}")
            known.add(word)
    missing = vocabulary - known
    if missing:
        log.debug("words the recogniser cannot hear (no pronunciation): %s", sorted(missing))
    dict_path = folder / "domain.dict"
    dict_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lm_path, dict_path


def _loaded() -> Any:
    """The process's decoder, built on first use. Call with ``_lock`` held."""
    global _decoder, _failure, _model_folder
    if _decoder is not None:
        return _decoder
    if _failure is not None:
        raise SphinxUnavailable(_failure)
    try:
        from pocketsphinx import Config, Decoder, get_model_path
    except ImportError as exc:
        _failure = f"pocketsphinx is not installed ({exc})"
        log.warning("%s; the simulator cannot hear words", _failure)
        raise SphinxUnavailable(_failure) from None
    _model_folder = tempfile.TemporaryDirectory(prefix="voxgate-sphinx-")
    lm_path, dict_path = build_model(Path(_model_folder.name))
    try:
        config = Config(
            hmm=get_model_path("en-us/en-us"),
            lm=str(lm_path),
            dict=str(dict_path),
            samprate=DECODER_RATE,
            loglevel="FATAL",
        )
        _decoder = Decoder(config)
    except (RuntimeError, ValueError, OSError) as exc:
        _failure = f"pocketsphinx could not load its model ({exc})"
        log.warning("%s; the simulator cannot hear words", _failure)
        raise SphinxUnavailable(_failure) from None
    return _decoder


def speech_span(audio: npt.NDArray[np.float64]) -> tuple[int, int]:
    """The samples from the first to the last loud frame, with ``MARGIN`` around them."""
    frames = len(audio) // FRAME
    if frames == 0:
        return 0, len(audio)
    rms = np.sqrt(np.mean(audio[: frames * FRAME].reshape(frames, FRAME) ** 2, axis=1))
    loud = np.nonzero(rms >= max(float(rms.max()) * SPEECH_LEVEL, QUIET_RMS))[0]
    if len(loud) == 0:
        return 0, len(audio)
    return max(0, int(loud[0]) * FRAME - MARGIN), min(len(audio), (int(loud[-1]) + 1) * FRAME + MARGIN)


def prepare(pcm16_24k: bytes) -> bytes:
    """PCM16 24 kHz as the decoder wants it: 16 kHz, the speech without the silence around it, and a
    noise floor above 4 kHz when it has nothing there."""
    samples = np.frombuffer(pcm16_24k, dtype="<i2")
    audio = np.asarray(soxr.resample(samples, PCM_RATE, DECODER_RATE, quality="HQ"), dtype=np.float64)
    start, end = speech_span(audio)
    audio = audio[start:end]
    if len(audio) < MIN_SPEECH_SAMPLES:
        return np.clip(audio, -32768, 32767).astype("<i2").tobytes()
    spectrum = np.fft.rfft(audio)
    high = np.fft.rfftfreq(len(audio), 1.0 / DECODER_RATE) >= PHONE_BAND_HZ
    power = np.abs(spectrum) ** 2
    if power[high].sum() < 1e-4 * max(power.sum(), 1.0):  # band-limited: a phone line
        noise = np.fft.rfft(np.random.default_rng(len(audio)).standard_normal(len(audio)))
        noise[~high] = 0.0
        floor = np.fft.irfft(noise, len(audio))
        audio = audio + floor * (NOISE_FLOOR / (float(np.std(floor)) or 1.0))
    return np.clip(audio, -32768, 32767).astype("<i2").tobytes()


def decode(audio16k: bytes) -> str | None:
    """The words pocketsphinx hears in 16 kHz PCM16 audio (None: none)."""
    with _lock:
        decoder = _loaded()
        decoder.start_utt()
        decoder.process_raw(audio16k, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
    words = str(hypothesis.hypstr).strip() if hypothesis is not None else ""
    return words or None


@dataclass(frozen=True, slots=True)
class SphinxRecognizer:
    """Hears English with pocketsphinx; other languages (and a missing pocketsphinx) go to ``fallback``."""

    process_bound: ClassVar[bool] = True
    fallback: Recognizer = field(default_factory=PlaceholderRecognizer)

    def transcribe(self, pcm16_24k: bytes, language: str | None) -> str | None:
        if language and not language.lower().startswith("en"):
            return self.fallback.transcribe(pcm16_24k, language)
        try:
            heard = decode(prepare(pcm16_24k))
        except SphinxUnavailable:
            return self.fallback.transcribe(pcm16_24k, language)
        return _sentence(heard) if heard else None


def _sentence(words: str) -> str:
    """``what is on the menu`` -> ``What is on the menu``; ``i`` -> ``I``."""
    fixed = " ".join("I" + w[1:] if w == "i" or w.startswith("i'") else w for w in words.split())
    return fixed[:1].upper() + fixed[1:]


def sphinx_available() -> bool:
    """Whether the decoder loads here (builds it: call it off the event loop)."""
    with _lock:
        try:
            _loaded()
        except SphinxUnavailable:
            return False
    return True
