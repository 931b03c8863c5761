"""The simulator speaks (espeak-ng) and hears (pocketsphinx), with the work off the event loop."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import numpy as np
import orjson
import pytest
from simkit import EngineHarness, RunningSimulator, only, open_session, types

from voxgate.protocol.audio import duration_ms
from voxgate.simulator import (
    EspeakVoice,
    PlaceholderRecognizer,
    SimulatorOptions,
    SphinxRecognizer,
    TimedSpeech,
    TimedSynthesizer,
    caller_speech,
    default_voice,
)
from voxgate.simulator.actions import Send, Work
from voxgate.simulator.codec import from_pcm24k, to_pcm24k
from voxgate.simulator.espeak import espeak_available, word_starts
from voxgate.simulator.planner import speak, split_words
from voxgate.simulator.sphinx import prepare, sphinx_available
from voxgate.simulator.work import Heard, HearingJob, SpeechJob

Starter = Callable[[SimulatorOptions], AbstractAsyncContextManager[RunningSimulator]]

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng (espeakng-loader) not installed")
needs_sphinx = pytest.mark.skipif(not sphinx_available(), reason="pocketsphinx not installed")

LINE = "Hello, welcome to the Blue Note bar. Tonight we have mojitos, negronis and cold beer."


# -- speech out -------------------------------------------------------------------------------------
@needs_espeak
@pytest.mark.parametrize(
    ("text", "language"),
    [(LINE, "en"), ("Bună ziua! Aveți o programare mâine la ora zece și jumătate.", "ro")],
)
def test_espeak_speaks_with_a_word_timeline(text: str, language: str) -> None:
    voice = EspeakVoice.for_voice("marin")
    assert isinstance(voice, TimedSynthesizer)
    speech = voice.synthesize_timed(text, language)
    samples = np.frombuffer(speech.pcm, dtype="<i2")
    seconds = len(samples) / 24000
    assert len(text) / 25 < seconds < len(text) / 8
    assert 0.05 < np.abs(samples).max() / 32768 <= 1.0
    words = text.split()
    assert [text[c:].split()[0] for c, _ in speech.word_starts] == words
    starts = [s for _, s in speech.word_starts]
    assert starts == sorted(starts) and starts[-1] < len(samples)


@needs_espeak
def test_voices_and_languages_sound_different() -> None:
    female, male = EspeakVoice.for_voice("marin"), EspeakVoice.for_voice("cedar")
    assert female.synthesize("Good evening", "en") != male.synthesize("Good evening", "en")
    assert female.synthesize("Bună seara", "ro") != female.synthesize("Bună seara", "en")


def test_word_starts_fill_in_words_espeak_merged() -> None:
    text = "What is on the menu?"
    # espeak reports no start for "the" (it merges it with "on"), and one that goes back in time
    starts = word_starts(text, [(0, 0), (5, 4000), (8, 6000), (15, 9000), (16, 100)], 20000)
    assert starts == ((0, 0), (5, 4000), (8, 6000), (11, 7285), (15, 9000))


@dataclass(frozen=True)
class Metronome:
    """A timed synthesizer as exact as a test needs: 100 ms of tone per letter, words back to back."""

    def synthesize(self, text: str, language: str) -> bytes:
        return self.synthesize_timed(text, language).pcm

    def synthesize_timed(self, text: str, language: str) -> TimedSpeech:
        samples: list[int] = []
        starts: list[tuple[int, int]] = []
        for match in re.finditer(r"\S+", text):
            starts.append((match.start(), len(samples)))
            samples += [1000 * (1 + len(starts) % 7)] * (2400 * len(match.group()))
        return TimedSpeech(np.array(samples, dtype="<i2").tobytes(), tuple(starts))


@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu", "audio/pcma"])
def test_a_message_is_spoken_whole_and_cut_at_word_starts(fmt: str) -> None:
    voice = Metronome()
    texts = split_words(LINE)
    chunks = speak(voice, texts, "en", fmt)
    assert [c.text for c in chunks] == texts
    whole = from_pcm24k(voice.synthesize("".join(texts), "en"), fmt)
    assert b"".join(c.audio for c in chunks) == whole  # one utterance, no seams
    for chunk in chunks:
        assert "".join(w.text for w in chunk.words) == chunk.text
        letters = sum(len(w.text.strip()) for w in chunk.words)
        assert chunk.audio_ms == pytest.approx(100.0 * letters, abs=1.0)  # exactly its own words
        assert chunk.words[0].start_ms == 0.0
        assert chunk.words[-1].end_ms == pytest.approx(chunk.audio_ms)
        for word in chunk.words:
            assert word.end_ms - word.start_ms == pytest.approx(100.0 * len(word.text.strip()), abs=1.0)


@needs_espeak
@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu"])
def test_espeak_chunks_carry_their_words(fmt: str) -> None:
    texts = split_words(LINE)
    chunks = speak(EspeakVoice.for_voice("marin"), texts, "en", fmt)
    assert [c.text for c in chunks] == texts
    assert all(c.audio and c.audio_ms == duration_ms(len(c.audio), fmt) for c in chunks)
    for chunk in chunks:
        assert "".join(w.text for w in chunk.words) == chunk.text
        assert chunk.words[0].start_ms == 0.0 and chunk.words[-1].end_ms == pytest.approx(chunk.audio_ms)
        assert all(a.end_ms == b.start_ms for a, b in zip(chunk.words, chunk.words[1:], strict=False))


@needs_espeak
def test_truncate_keeps_exactly_the_words_heard() -> None:
    sim = EngineHarness(synthesizer_for=default_voice)
    text = "One two three four five six seven eight nine ten."
    events = sim.send({"type": "response.create", "response": {"instructions": f'Say exactly: "{text}"'}})
    item_id = only(events, "response.output_item.done")["item"]["id"]
    stored = sim.engine.store.get(item_id)
    assert stored is not None
    words = stored.words
    assert [w.text.strip() for w in words] == text.split()
    # a word counts as heard once more than half of it has been played
    sixth = words[5]
    past_half = sixth.start_ms + 0.6 * (sixth.end_ms - sixth.start_ms)
    before_half = sixth.start_ms + 0.4 * (sixth.end_ms - sixth.start_ms)
    assert before_half > words[4].end_ms
    at = int(past_half)
    (truncated,) = sim.send(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": at}
    )
    assert truncated["type"] == "conversation.item.truncated"
    (retrieved,) = sim.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["item"]["content"][0]["transcript"] == "One two three four five six"
    assert stored.audio_ms == at
    # cutting again, earlier: the sixth word is no longer heard
    sim.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": int(before_half) + 1,
        }
    )
    assert stored.item["content"][0]["transcript"] == "One two three four five"


def test_caller_speech_is_speech_at_24_khz() -> None:
    pcm = caller_speech("What is on the menu?", "en")
    assert len(pcm) % 2 == 0 and 0.6 < len(pcm) / 48000 < 3.0


# -- the engine hands speech out as work ------------------------------------------------------------
def test_the_engine_asks_for_audio_and_waits_for_it() -> None:
    sim = EngineHarness()
    actions = sim.engine.receive(orjson.dumps({"type": "response.create"}), sim.now)
    assert [type(a) for a in actions] == [Send, Work]
    created = actions[0]
    assert isinstance(created, Send) and created.event["type"] == "response.created"
    work = actions[1]
    assert isinstance(work, Work) and isinstance(work.job, SpeechJob)
    assert work.job.messages == (tuple(split_words("Hello! How can I help you today?")),)
    assert sim.engine.working == 1
    assert sim.engine.drain(sim.now + 60) == []  # nothing to say until the audio is there
    assert sim.engine.complete(work.job.run(), sim.now) == []
    assert sim.engine.working == 0
    events = sim.drain()
    assert types(events)[-2:] == ["response.done", "rate_limits.updated"]
    assert only(events, "response.done")["response"]["status"] == "completed"


def test_a_cancelled_response_drops_its_late_audio() -> None:
    sim = EngineHarness()
    (_, work) = sim.engine.receive(orjson.dumps({"type": "response.create"}), sim.now)
    events = sim.send({"type": "response.cancel"})
    done = only(events, "response.done")["response"]
    assert done["status"] == "cancelled" and done["output"] == []
    assert isinstance(work, Work)
    assert sim.engine.complete(work.job.run(), sim.now) == []
    assert sim.drain() == []


def test_a_failed_synthesis_fails_the_response() -> None:
    sim = EngineHarness()
    (_, work) = sim.engine.receive(orjson.dumps({"type": "response.create"}), sim.now)
    assert isinstance(work, Work)
    sim.engine.complete(work.job.failed(), sim.now)
    done = only(sim.drain(), "response.done")["response"]
    assert done["status"] == "failed" and done["status_details"]["error"]["code"] == "speech_synthesis_failed"


def test_a_response_waits_for_the_callers_words() -> None:
    menu = {"type": "function", "name": "get_menu", "description": "The bar's drinks and prices."}
    sim = EngineHarness()
    sim.update(
        tools=[menu], audio={"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}
    )
    sim.append(np.zeros(24000, dtype="<i2").tobytes(), drain=False)
    actions = sim.engine.receive(orjson.dumps({"type": "input_audio_buffer.commit"}), sim.now)
    (hearing,) = [a.job for a in actions if isinstance(a, Work)]
    assert isinstance(hearing, HearingJob) and hearing.audio_format == "audio/pcm"
    actions = sim.engine.receive(orjson.dumps({"type": "response.create"}), sim.now)
    assert [a.event["type"] for a in actions if isinstance(a, Send)] == ["response.created"]
    assert not any(isinstance(a, Work) for a in actions)  # no decision before the words are heard
    heard = Heard(hearing.job_id, "What is on the menu?")
    events = sim._events(sim.engine.complete(heard, sim.now))
    assert types(events)[-1] == "conversation.item.input_audio_transcription.completed"
    events += sim.drain()
    assert only(events, "response.function_call_arguments.done")["name"] == "get_menu"


def test_audio_is_heard_once_and_a_responses_own_audio_never() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": None}})
    spoken = sim.send({"type": "response.create"})
    assert only(spoken, "response.done")["response"]["output"][0]["content"][0]["type"] == "output_audio"
    sim.append(np.zeros(24000, dtype="<i2").tobytes())
    actions = sim.engine.receive(orjson.dumps({"type": "input_audio_buffer.commit"}), sim.now)
    (hearing,) = [a.job for a in actions if isinstance(a, Work)]
    assert isinstance(hearing, HearingJob)
    sim._events(sim.engine.complete(Heard(hearing.job_id, None), sim.now))  # no words in it
    for _ in range(2):
        actions = sim.engine.receive(orjson.dumps({"type": "response.create"}), sim.now)
        jobs = [a.job for a in actions if isinstance(a, Work)]
        assert [type(job) for job in jobs] == [SpeechJob], "only the reply is worked on: nothing is heard"
        sim._events(actions)


# -- speech in --------------------------------------------------------------------------------------
@needs_sphinx
@needs_espeak
def test_pocketsphinx_hears_the_caller_through_a_phone_line() -> None:
    spoken = caller_speech("What is on the menu?", "en")
    phone = to_pcm24k(from_pcm24k(bytes(24000) + spoken + bytes(24000), "audio/pcmu"), "audio/pcmu")
    heard = SphinxRecognizer().transcribe(phone, "en")
    assert heard is not None and "menu" in heard.lower()
    assert heard[0].isupper()


def test_other_languages_go_to_the_fallback() -> None:
    one_second = bytes(48000)
    assert SphinxRecognizer().transcribe(one_second, "ro") == "[speech 1.0 s]"
    assert SphinxRecognizer(fallback=PlaceholderRecognizer()).process_bound


def test_prepare_cuts_the_silence_around_speech() -> None:
    rate = 24000
    tone = (np.sin(np.arange(rate) * 2 * np.pi * 440 / rate) * 8000).astype("<i2").tobytes()
    audio = bytes(2 * rate) + tone + bytes(2 * rate)  # 1 s, 1 s of tone, 1 s
    prepared = np.frombuffer(prepare(audio), dtype="<i2")
    assert 1.0 <= len(prepared) / 16000 <= 1.35


# -- off the event loop -----------------------------------------------------------------------------
@dataclass(eq=False)
class GatedVoice:
    """A synthesizer that cannot finish until the test lets it: 'a very long reply'."""

    gate: threading.Event
    started: threading.Event = field(default_factory=threading.Event)

    def synthesize(self, text: str, language: str) -> bytes:
        self.started.set()
        if not self.gate.wait(30):
            raise TimeoutError("the test never opened the gate")
        return bytes(4800)


async def test_one_session_synthesising_does_not_stall_another(start_simulator: Starter) -> None:
    gate = threading.Event()
    voice = GatedVoice(gate)
    options = SimulatorOptions(seed=3, synthesizer_for=lambda name: voice)
    async with (
        start_simulator(options) as simulator,
        open_session(simulator) as a,
        open_session(simulator) as b,
    ):
        await a.recv()
        await b.recv()
        await a.say("Tell me everything about the menu.")
        await a.send({"type": "response.create"})
        await a.until("response.created")
        assert await asyncio.to_thread(voice.started.wait, 30)  # A's synthesis is under way in a worker
        # B works normally meanwhile: a text turn and a session update, round trip after round trip
        text_only = {"type": "realtime", "output_modalities": ["text"]}
        for _ in range(3):
            await b.send({"type": "session.update", "session": text_only})
            await b.until("session.updated")
            await b.say("Hello")
            await b.send({"type": "response.create"})
            assert (await b.until("response.done"))["response"]["status"] == "completed"
        assert not gate.is_set()  # all of that while A's synthesis was still blocked
        gate.set()
        done = await a.until("response.done")
        assert done["response"]["status"] == "completed"
        audio = [e for e in a.events if e["type"] == "response.output_audio.delta"]
        assert audio and all(base64.b64decode(e["delta"]) for e in audio)
