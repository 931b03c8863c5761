"""The engine as pure data: input audio, server VAD, barge-in, manual turns, input transcription."""

from __future__ import annotations

import pytest
from simkit import NOW, EngineHarness, errors, in_format, only, silence, speech_like, types

from voxgate.simulator.scenario import parse_scenario

RATES = {"audio/pcm": 24000, "audio/pcmu": 8000, "audio/pcma": 8000}
TURN = ["input_audio_buffer.speech_stopped", "input_audio_buffer.committed", "conversation.item.added"]


def utterance(fmt: str, *, lead: float = 0.5, speech: float = 1.0, tail: float = 0.8, seed: int = 1) -> bytes:
    rate = RATES[fmt]
    pcm = silence(lead, rate) + speech_like(speech, rate, seed=seed) + silence(tail, rate)
    return in_format(pcm, fmt)


def chunk_for(fmt: str) -> int:
    return 960 if fmt == "audio/pcm" else 160  # 20 ms


@pytest.mark.parametrize("fmt", ["audio/pcm", "audio/pcmu", "audio/pcma"])
def test_server_vad_turn(fmt: str) -> None:
    sim = EngineHarness()
    if fmt != "audio/pcm":
        sim.update(audio={"input": {"format": {"type": fmt}}})
    events = sim.append(utterance(fmt), chunk=chunk_for(fmt))
    kinds = types(events)
    assert kinds[:6] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    started = only(events, "input_audio_buffer.speech_started")
    stopped = only(events, "input_audio_buffer.speech_stopped")
    committed = only(events, "input_audio_buffer.committed")
    assert started["audio_start_ms"] == 500 - 300  # speech at 500 ms, minus prefix padding
    assert stopped["audio_end_ms"] == 1500 + 500  # speech ends at 1500 ms, plus the silence duration
    assert started["item_id"] == stopped["item_id"] == committed["item_id"]
    assert committed["previous_item_id"] is None
    item = events[3]["item"]
    assert item["id"] == committed["item_id"]
    assert item["role"] == "user" and item["content"] == [{"type": "input_audio", "transcript": None}]
    stored = sim.engine.store.get(item["id"])
    assert stored is not None and stored.audio_ms == pytest.approx(1800)
    assert only(events, "response.done")["response"]["status"] == "completed"
    assert "1.8 seconds" in only(events, "response.output_audio_transcript.done")["transcript"]


def test_prefix_padding_never_reaches_before_the_buffer() -> None:
    sim = EngineHarness()
    events = sim.append(utterance("audio/pcm", lead=0.1))
    assert only(events, "input_audio_buffer.speech_started")["audio_start_ms"] == 0


def test_quiet_audio_is_not_speech_and_threshold_matters() -> None:
    sim = EngineHarness()
    quiet = silence(0.3, 24000) + speech_like(1.0, 24000, level=0.004) + silence(0.8, 24000)
    assert sim.append(quiet) == []
    sim.update(audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.0}}})
    assert "input_audio_buffer.speech_started" in types(sim.append(quiet))


def test_barge_in_cancels_the_active_response() -> None:
    sim = EngineHarness(pace="realtime")
    sim.send(
        {"type": "response.create", "response": {"instructions": 'Say exactly: "A long answer. ' * 5 + '"'}}
    )
    playing = sim.engine.active
    assert playing is not None
    events = sim.append(utterance("audio/pcm"))
    kinds = types(events)
    start = kinds.index("input_audio_buffer.speech_started")
    assert kinds[start + 1 : start + 8] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["id"] == playing.id
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    assert done["output"][0]["status"] == "incomplete"
    # the caller's turn then gets its own response
    assert kinds[start + 8 : start + 8 + len(TURN)] == TURN
    assert kinds.count("response.created") == 1


def test_no_interruption_or_response_when_turned_off() -> None:
    sim = EngineHarness(pace="realtime")
    sim.update(
        audio={
            "input": {
                "turn_detection": {
                    "type": "server_vad",
                    "interrupt_response": False,
                    "create_response": False,
                }
            }
        }
    )
    sim.send({"type": "response.create"})
    events = sim.append(utterance("audio/pcm"))
    assert types(events)[:5] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert "response.created" not in types(events)
    assert sim.engine.active is not None  # still speaking its first answer


def test_semantic_vad_detects_turns_too() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}})
    events = sim.append(utterance("audio/pcm"))
    assert only(events, "input_audio_buffer.speech_stopped")["audio_end_ms"] == 1500 + 400


def test_manual_turns() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": None}})
    assert sim.append(utterance("audio/pcm")) == []  # no VAD events
    (cleared,) = sim.send({"type": "input_audio_buffer.clear"})
    assert cleared["type"] == "input_audio_buffer.cleared"
    (error,) = errors(sim.send({"type": "input_audio_buffer.commit", "event_id": "c1"}))
    assert (error["code"], error["event_id"]) == ("input_audio_buffer_commit_empty", "c1")
    sim.append(silence(0.05, 24000))
    (error,) = errors(sim.send({"type": "input_audio_buffer.commit"}))
    assert "only has 50.00ms" in error["message"]
    sim.append(speech_like(1.0, 24000))
    events = sim.send({"type": "input_audio_buffer.commit"})
    assert types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert sim.engine.store.all()[0].audio_ms == pytest.approx(1050)
    assert "response.done" in types(sim.send({"type": "response.create"}))


def test_input_transcription_events() -> None:
    sim = EngineHarness()
    sim.update(
        audio={"input": {"turn_detection": None, "transcription": {"model": "gpt-4o-mini-transcribe"}}}
    )
    sim.append(speech_like(1.4, 24000))
    events = sim.send({"type": "input_audio_buffer.commit"})
    item_id = only(events, "input_audio_buffer.committed")["item_id"]
    deltas = [e for e in events if e["type"] == "conversation.item.input_audio_transcription.delta"]
    completed = only(events, "conversation.item.input_audio_transcription.completed")
    assert completed["item_id"] == item_id and completed["content_index"] == 0
    assert completed["transcript"] == "[speech 1.4 s]" == "".join(d["delta"] for d in deltas)
    assert completed["usage"]["type"] == "tokens"
    (retrieved,) = sim.send({"type": "conversation.item.retrieve", "item_id": item_id})
    assert retrieved["item"]["content"][0]["transcript"] == "[speech 1.4 s]"


def test_scripted_transcripts_drive_the_brain() -> None:
    scenario = parse_scenario({"transcripts": ["What's on the menu?"]})
    menu_tool = {"type": "function", "name": "get_menu", "description": "The bar's drinks and prices."}
    sim = EngineHarness(scenarios=[scenario])
    sim.update(tools=[menu_tool], audio={"input": {"transcription": {"model": "whisper-1"}}})
    events = sim.append(utterance("audio/pcm"))
    assert (
        only(events, "conversation.item.input_audio_transcription.completed")["transcript"]
        == "What's on the menu?"
    )
    assert only(events, "response.function_call_arguments.done")["name"] == "get_menu"
    # once the script runs out, the placeholder is heard again
    events = sim.append(utterance("audio/pcm", seed=2))
    assert (
        only(events, "conversation.item.input_audio_transcription.completed")["transcript"]
        == "[speech 1.8 s]"
    )


def test_idle_timeout_prompts_the_caller() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 2000}}})
    events = sim.send({"type": "response.create"})
    audio_ms = sim.engine.store.all()[-1].audio_ms
    assert "response.done" in types(events)
    deadline = sim.engine.next_deadline()
    assert deadline is not None
    assert deadline == pytest.approx(NOW + audio_ms / 1000 + 2.0)
    assert sim.at(deadline - 0.01) == []
    events = sim.at(deadline)
    assert types(events)[:5] == [
        "input_audio_buffer.timeout_triggered",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
    ]
    assert only(events, "response.output_audio_transcript.done")["transcript"].startswith("Sorry")


def test_format_change_empties_the_buffer() -> None:
    sim = EngineHarness()
    sim.update(audio={"input": {"turn_detection": None}})
    sim.append(speech_like(0.5, 24000))
    sim.update(audio={"input": {"format": {"type": "audio/pcmu"}}})
    assert (
        errors(sim.send({"type": "input_audio_buffer.commit"}))[0]["code"]
        == "input_audio_buffer_commit_empty"
    )
