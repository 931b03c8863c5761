"""Speech work the engine hands out: synthesis and recognition, run by the I/O layer off the loop.

The engine stays pure: when a response needs audio, or user audio needs hearing, it returns a
``Work(job)`` action. The connection runs ``job.run()`` in a worker (a thread, or a process for a
recogniser that holds the GIL) and gives the result back with ``engine.complete(result, now)``.
Tests that drive the engine as data run the job in place (``simkit.EngineHarness``). A job that raised is
reported with ``job.failed()``: the response fails, or the audio counts as unintelligible.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxgate.simulator.codec import to_pcm24k
from voxgate.simulator.hearing import Recognizer
from voxgate.simulator.planner import Chunk, speak
from voxgate.simulator.voice import Synthesizer


@dataclass(frozen=True, slots=True)
class Spoken:
    """The audio of a response's messages, in order; ``failed`` when synthesis raised."""

    job_id: int
    messages: tuple[tuple[Chunk, ...], ...]
    failed: bool = False


@dataclass(frozen=True, slots=True)
class Heard:
    """What the recogniser heard in one stretch of user audio (None: nothing intelligible)."""

    job_id: int
    text: str | None


@dataclass(frozen=True, slots=True)
class SpeechJob:
    """Synthesise every message of one response (each as its chunk texts)."""

    job_id: int
    synthesizer: Synthesizer
    language: str
    output_format: str
    messages: tuple[tuple[str, ...], ...]

    @property
    def process_bound(self) -> bool:
        return bool(getattr(self.synthesizer, "process_bound", False))

    def run(self) -> Spoken:
        return Spoken(
            self.job_id,
            tuple(
                speak(self.synthesizer, texts, self.language, self.output_format) for texts in self.messages
            ),
        )

    def failed(self) -> Spoken:
        return Spoken(self.job_id, (), failed=True)


@dataclass(frozen=True, slots=True)
class HearingJob:
    """Transcribe one user audio item (audio in the session's input format)."""

    job_id: int
    recognizer: Recognizer
    audio: bytes
    audio_format: str
    language: str | None

    @property
    def process_bound(self) -> bool:
        """A recogniser that holds the GIL while it decodes asks for a process (``process_bound``)."""
        return bool(getattr(self.recognizer, "process_bound", False))

    def run(self) -> Heard:
        return Heard(
            self.job_id, self.recognizer.transcribe(to_pcm24k(self.audio, self.audio_format), self.language)
        )

    def failed(self) -> Heard:
        return Heard(self.job_id, None)


Job = SpeechJob | HearingJob
JobResult = Spoken | Heard


@dataclass(frozen=True, slots=True)
class Work:
    """Run ``job`` off the event loop and hand its result to ``engine.complete``."""

    job: Job
