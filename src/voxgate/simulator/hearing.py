"""What the simulator "hears" in user audio, behind a one-method interface.

``Recognizer.transcribe(pcm16_24k, language)`` returns the words, or None when it cannot tell.
The default (``default_recognizer``) is pocketsphinx for English (``sphinx.py``); where it cannot
hear (another language, or no pocketsphinx) the placeholder says only how long the caller spoke
(``[speech 1.4 s]``). A scenario can script what successive audio turns contain (the engine takes
its ``transcripts`` before asking the recogniser). A recogniser that holds the GIL while it works
sets ``process_bound = True`` and is run in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from voxgate.protocol.audio import duration_ms


class Recognizer(Protocol):
    def transcribe(self, pcm16_24k: bytes, language: str | None) -> str | None:
        """The words in the audio, or None when nothing intelligible was heard."""
        ...


class PlaceholderRecognizer:
    """No recogniser: a deterministic placeholder that gives the length of the speech."""

    def transcribe(self, pcm16_24k: bytes, language: str | None) -> str | None:
        seconds = duration_ms(len(pcm16_24k), "audio/pcm") / 1000.0
        return f"[speech {seconds:.1f} s]"


class ScriptedRecognizer:
    """Takes the next scripted transcript while there is one, then defers to ``fallback``."""

    def __init__(self, next_scripted: Callable[[], str | None], fallback: Recognizer) -> None:
        self._next = next_scripted
        self._fallback = fallback

    def transcribe(self, pcm16_24k: bytes, language: str | None) -> str | None:
        scripted = self._next()
        if scripted is not None:
            return scripted
        return self._fallback.transcribe(pcm16_24k, language)


def default_recognizer() -> Recognizer:
    """pocketsphinx for English, the placeholder otherwise (nothing is loaded here)."""
    from voxgate.simulator.sphinx import SphinxRecognizer

    return SphinxRecognizer()
