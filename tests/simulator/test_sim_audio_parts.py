"""The energy VAD, the synthetic voice and the placeholder recogniser."""

from __future__ import annotations

import numpy as np
import pytest
from simkit import silence, speech_like

from voxgate.simulator.codec import from_pcm24k, to_pcm24k
from voxgate.simulator.hearing import PlaceholderRecognizer, ScriptedRecognizer
from voxgate.simulator.vad import EnergyVad, VadEvent, VadSettings, threshold_to_dbfs
from voxgate.simulator.voice import SyntheticVoice, synthetic_voice


def test_threshold_maps_onto_a_loudness_range() -> None:
    assert threshold_to_dbfs(0.0) == -60.0
    assert threshold_to_dbfs(0.5) == -37.5
    assert threshold_to_dbfs(1.0) == -15.0
    assert threshold_to_dbfs(7.0) == -15.0


@pytest.mark.parametrize("rate", [8000, 24000])
def test_vad_finds_speech_in_noise_bursts(rate: int) -> None:
    vad = EnergyVad(VadSettings(silence_duration_ms=300), rate)
    audio = silence(0.25, rate) + speech_like(0.6, rate) + silence(0.5, rate) + speech_like(0.3, rate, seed=2)
    events: list[VadEvent] = []
    step = rate // 50 * 2  # 20 ms of 16-bit samples
    for start in range(0, len(audio), step):
        events += vad.push(audio[start : start + step])
    assert events == [VadEvent("start", 250.0), VadEvent("stop", 1150.0), VadEvent("start", 1350.0)]
    assert vad.speaking


def test_vad_ignores_clicks_and_chunking() -> None:
    rate = 24000
    click = np.zeros(rate // 2, dtype="<i2")
    click[100:300] = 20000  # 8 ms: shorter than the minimum speech
    vad = EnergyVad(VadSettings(), rate)
    assert vad.push(click.tobytes()) == []
    odd = EnergyVad(VadSettings(), rate, position_ms=1000.0)
    audio = speech_like(0.2, rate)
    events = []
    for start in range(0, len(audio), 7 * 2):  # chunks that do not line up with windows
        events += odd.push(audio[start : start + 14])
    assert events == [VadEvent("start", 1000.0)]


def test_synthetic_voice_is_deterministic_paced_and_quiet() -> None:
    voice = SyntheticVoice()
    text = "Hello, welcome to the Blue Note bar. What can I get you?"
    pcm = voice.synthesize(text, "en")
    assert pcm == voice.synthesize(text, "en")
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    seconds = len(samples) / 24000
    assert len(text) / 18 < seconds < len(text) / 9  # about 14 characters a second, pauses included
    peak = np.abs(samples).max() / 32768
    assert 0.05 < peak < 0.25
    assert samples[0] == 0 and abs(samples[-1]) < 50  # fades in and out: no click at the edges
    assert voice.synthesize("", "en") == b""
    assert synthetic_voice("cedar").synthesize("hi", "en") != synthetic_voice("marin").synthesize("hi", "en")


def test_the_vad_hears_the_synthetic_voice() -> None:
    pcm = SyntheticVoice().synthesize("Good evening, a table for two please.", "en")
    vad = EnergyVad(VadSettings(), 24000)
    events = vad.push(silence(0.3, 24000) + pcm + silence(1.0, 24000))
    assert [e.kind for e in events] == ["start", "stop"]


@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu", "audio/pcma"])
def test_codec_round_trip_keeps_duration(fmt: str) -> None:
    pcm = speech_like(0.5, 24000)
    encoded = from_pcm24k(pcm, fmt)
    assert len(encoded) == (len(pcm) if fmt == "audio/pcm" else len(pcm) // 6)
    assert abs(len(to_pcm24k(encoded, fmt)) - len(pcm)) <= 6


def test_recognisers() -> None:
    assert PlaceholderRecognizer().transcribe(bytes(48 * 1400), None) == "[speech 1.4 s]"
    script = iter(["first", None])
    scripted = ScriptedRecognizer(lambda: next(script), PlaceholderRecognizer())
    assert scripted.transcribe(bytes(4800), "en") == "first"
    assert scripted.transcribe(bytes(4800), "en") == "[speech 0.1 s]"
