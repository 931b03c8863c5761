"""The phone-call state machine, driven as pure data: messages and times in, actions out."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pytest
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st

from voxgate.protocol.audio import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from voxgate.protocol.conversation import SendUpstream
from voxgate.protocol.phone import (
    HangUp,
    Metric,
    PhoneAction,
    PhoneCall,
    PhoneConfig,
    PhoneError,
    SendToTwilio,
    mark_name,
    parse_mark_name,
)
from voxgate.protocol.twilio import Connected, Dtmf, Mark, Media, MediaFormat, Start, Stop

SID = "MZ00112233445566778899aabbccddeeff"
CALL = "CAfedcba9876543210fedcba9876543210"
JSON = dict[str, Any]


# -- helpers ---------------------------------------------------------------------------------------


def start_msg(**fmt: Any) -> Start:
    return Start(SID, CALL, "AC1", ("inbound",), {"token": "t"}, MediaFormat(**fmt))


def make_call(**config: Any) -> PhoneCall:
    call = PhoneCall(PhoneConfig(**config))
    assert call.on_twilio_message(Connected("Call", "1.0.0"), 0.0) == []
    assert call.on_twilio_message(start_msg(), 0.0) == []
    return call


def delta(audio: bytes, item: str = "item_A", response: str = "resp_1") -> JSON:
    return {
        "type": "response.output_audio.delta",
        "event_id": "event_x",
        "response_id": response,
        "item_id": item,
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(audio).decode(),
    }


def created(response: str = "resp_1") -> JSON:
    return {"type": "response.created", "response": {"id": response, "status": "in_progress"}}


def done(response: str = "resp_1", status: str = "completed") -> JSON:
    return {"type": "response.done", "response": {"id": response, "status": status}}


def audio_done(item: str = "item_A", response: str = "resp_1") -> JSON:
    return {"type": "response.output_audio.done", "response_id": response, "item_id": item}


SPEECH_STARTED: JSON = {
    "type": "input_audio_buffer.speech_started",
    "audio_start_ms": 1000,
    "item_id": "item_U",
}
SPEECH_STOPPED: JSON = {
    "type": "input_audio_buffer.speech_stopped",
    "audio_end_ms": 2000,
    "item_id": "item_U",
}


def twilio(actions: list[PhoneAction]) -> list[JSON]:
    return [orjson.loads(a.text) for a in actions if isinstance(a, SendToTwilio)]


def upstream(actions: list[PhoneAction]) -> list[JSON]:
    return [a.event for a in actions if isinstance(a, SendUpstream)]


def upstream_types(actions: list[PhoneAction]) -> list[str]:
    return [e["type"] for e in upstream(actions)]


def media_bytes(actions: list[PhoneAction]) -> list[bytes]:
    return [base64.b64decode(m["media"]["payload"]) for m in twilio(actions) if m["event"] == "media"]


def marks(actions: list[PhoneAction]) -> list[str]:
    return [m["mark"]["name"] for m in twilio(actions) if m["event"] == "mark"]


def mark_position(name: str) -> tuple[str, int]:
    parsed = parse_mark_name(name)
    assert parsed is not None, name
    return parsed[0], parsed[1]


def echo(call: PhoneCall, name: str, now: float) -> list[PhoneAction]:
    return call.on_twilio_message(Mark(SID, name), now)


def caller_frame(audio: bytes, n: int = 0) -> Media:
    return Media(SID, "inbound", n + 1, n * 20, audio, n + 2)


def sine(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.asarray(np.round(amplitude * np.sin(2 * np.pi * hz * t)), dtype=np.int16)


# -- section 20.3, the worked example --------------------------------------------------------------


def play_worked_example(call: PhoneCall) -> list[str]:
    call.on_upstream_event(created(), 9.99)
    names: list[str] = []
    for now, size in ((10.000, 4000), (10.010, 8000), (10.020, 8000)):
        actions = call.on_upstream_event(delta(b"\x7f" * size), now)
        names += marks(actions)
    assert call.on_upstream_event(done(), 10.020) == []
    assert echo(call, names[0], 10.510) == []
    assert echo(call, names[1], 11.510) == []
    return names


def test_worked_example_marks_carry_item_and_cumulative_ms() -> None:
    call = make_call()
    names = play_worked_example(call)
    assert [mark_position(n) for n in names] == [
        ("item_A", 500),
        ("item_A", 1500),
        ("item_A", 2500),
    ]
    assert call.heard_ms("item_A") == 1500
    assert call.produced_ms("item_A") == 2500


def test_worked_example_barge_in_with_extrapolation() -> None:
    call = make_call()
    names = play_worked_example(call)
    actions = call.on_upstream_event(SPEECH_STARTED, 11.900)
    assert twilio(actions) == [{"event": "clear", "streamSid": SID}]
    truncate = upstream(actions)
    assert [(e["type"], e["item_id"], e["content_index"], e["audio_end_ms"]) for e in truncate] == [
        ("conversation.item.truncate", "item_A", 0, 1890)
    ]
    assert truncate[0]["event_id"].startswith("vg_")
    assert Metric("barge_in_heard_ms", 1890.0) in actions
    # Case B: the response was already done, so nothing to cancel.
    assert "response.cancel" not in upstream_types(actions)
    # The clear makes Twilio echo A:3 although it never played: ignored.
    assert echo(call, names[2], 11.905) == []
    assert call.heard_ms("item_A") == 1500
    assert call.stats.marks_ignored == 1
    truncated = {
        "type": "conversation.item.truncated",
        "item_id": "item_A",
        "content_index": 0,
        "audio_end_ms": 1890,
    }
    assert call.on_upstream_event(truncated, 11.950) == []


def test_worked_example_barge_in_from_marks_only() -> None:
    call = make_call(extrapolate_playback=False)
    play_worked_example(call)
    actions = call.on_upstream_event(SPEECH_STARTED, 11.900)
    assert [e["audio_end_ms"] for e in upstream(actions)] == [1500]


def test_extrapolation_is_capped_at_the_playing_segment() -> None:
    call = make_call()
    play_worked_example(call)
    actions = call.on_upstream_event(SPEECH_STARTED, 30.0)  # long after: Twilio stalled
    assert [e["audio_end_ms"] for e in upstream(actions)] == [2500]


def test_extrapolation_starts_when_the_segment_was_sent_if_twilio_was_idle() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    first = marks(call.on_upstream_event(delta(b"\x7f" * 800), 1.0))  # 100 ms
    echo(call, first[0], 1.1)
    call.on_upstream_event(delta(b"\x7f" * 8000), 5.0)  # queue was empty: plays from 5.0
    actions = call.on_upstream_event(SPEECH_STARTED, 5.25)
    assert [e["audio_end_ms"] for e in upstream(actions)] == [350]


# -- barge-in cases of section 8.5 -----------------------------------------------------------------


def test_case_a_response_still_generating() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 1600), 0.1))  # 200 ms
    names += marks(call.on_upstream_event(delta(b"\x02" * 1600), 0.2))
    echo(call, names[0], 0.3)
    actions = call.on_upstream_event(SPEECH_STARTED, 0.3)
    assert twilio(actions)[0]["event"] == "clear"
    assert upstream_types(actions) == ["conversation.item.truncate"]  # the server cancels by itself
    assert upstream(actions)[0]["audio_end_ms"] == 200

    # Audio already in flight for the cancelled response is dropped, not played.
    late = call.on_upstream_event(delta(b"\x03" * 1600), 0.31)
    assert late == []
    assert call.stats.outbound_dropped_bytes == 1600
    for event in (
        audio_done(),
        {"type": "response.output_item.done", "response_id": "resp_1", "item": {"id": "item_A"}},
        done(status="cancelled"),
    ):
        assert call.on_upstream_event(event, 0.32) == []
    assert echo(call, names[1], 0.33) == []  # echo of the cleared mark

    # The next response plays normally.
    call.on_upstream_event(created("resp_2"), 1.0)
    actions = call.on_upstream_event(delta(b"\x04" * 320, item="item_B", response="resp_2"), 1.1)
    assert media_bytes(actions) == [b"\x04" * 160, b"\x04" * 160]
    assert call.playing


def test_case_a_before_any_audio_only_drops_the_response() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    assert call.on_upstream_event(SPEECH_STARTED, 0.1) == []
    assert call.on_upstream_event(delta(b"\x01" * 160), 0.2) == []
    assert call.stats.outbound_dropped_bytes == 160


def test_case_b_generation_finished_audio_still_playing() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 8000), 0.1))  # 1 s
    call.on_upstream_event(audio_done(), 0.1)
    call.on_upstream_event(done(), 0.1)
    assert call.active_response_id is None and call.playing
    actions = call.on_upstream_event(SPEECH_STARTED, 0.5)
    assert [m["event"] for m in twilio(actions)] == ["clear"]
    assert upstream(actions)[0]["audio_end_ms"] == 400
    assert "response.cancel" not in upstream_types(actions)
    assert echo(call, names[0], 0.51) == []
    assert not call.playing


def test_case_c_no_server_interruption_cancels_too() -> None:
    call = make_call(interrupt_response=False)
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 8000), 0.0)
    actions = call.on_upstream_event(SPEECH_STARTED, 0.25)
    assert twilio(actions)[0]["event"] == "clear"
    assert upstream_types(actions) == ["response.cancel", "conversation.item.truncate"]
    assert upstream(actions)[0]["response_id"] == "resp_1"
    assert upstream(actions)[1]["audio_end_ms"] == 250
    assert call.on_upstream_event(delta(b"\x01" * 160), 0.3) == []


def test_case_c_cancels_even_with_nothing_playing() -> None:
    call = make_call(interrupt_response=False)
    call.on_upstream_event(created(), 0.0)
    assert upstream_types(call.on_upstream_event(SPEECH_STARTED, 0.1)) == ["response.cancel"]
    # Only once per response.
    assert call.on_upstream_event(SPEECH_STARTED, 0.2) == []


def test_nothing_playing_nothing_to_do() -> None:
    call = make_call()
    assert call.on_upstream_event(SPEECH_STARTED, 0.0) == []
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 160), 0.0))
    call.on_upstream_event(done(), 0.0)
    echo(call, names[0], 0.02)
    assert call.on_upstream_event(SPEECH_STARTED, 1.0) == []


# -- clamping, unheard items, several items --------------------------------------------------------


def test_truncate_never_exceeds_the_audio_produced() -> None:
    # Transcoding rounds: 1001 samples at 24 kHz make 334 samples at 8 kHz (41.75 ms > 41.7 ms).
    call = make_call(output_format="audio/pcm", input_format="audio/pcm")
    call.on_upstream_event(created(), 0.0)
    actions = call.on_upstream_event(delta(sine(24000, 1001 / 24000).tobytes()), 0.0)
    actions += call.on_upstream_event(audio_done(), 0.0)
    actions += call.on_upstream_event(done(), 0.0)
    sent_ms = sum(len(b) for b in media_bytes(actions)) / 8
    produced = call.produced_ms("item_A")
    assert sent_ms > produced
    result = call.on_upstream_event(SPEECH_STARTED, 100.0)
    (truncate,) = upstream(result)
    assert truncate["audio_end_ms"] == math.floor(produced) == 41


def test_nothing_heard_deletes_the_item() -> None:
    call = make_call(extrapolate_playback=False)
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 1600), 0.0)
    actions = call.on_upstream_event(SPEECH_STARTED, 0.5)
    assert twilio(actions)[0]["event"] == "clear"
    assert [(e["type"], e["item_id"]) for e in upstream(actions)] == [("conversation.item.delete", "item_A")]
    assert Metric("barge_in_heard_ms", 0.0) in actions


def test_nothing_heard_can_skip_instead() -> None:
    call = make_call(extrapolate_playback=False, unheard_item="skip")
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 1600), 0.0)
    actions = call.on_upstream_event(SPEECH_STARTED, 0.5)
    assert [m["event"] for m in twilio(actions)] == ["clear"]
    assert upstream(actions) == []


def test_items_queued_behind_the_playing_one_are_deleted() -> None:
    call = make_call(extrapolate_playback=False)
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 800, item="item_A"), 0.0))
    names += marks(call.on_upstream_event(delta(b"\x01" * 800, item="item_A"), 0.0))
    names += marks(call.on_upstream_event(delta(b"\x02" * 800, item="item_B"), 0.0))
    echo(call, names[0], 0.1)
    actions = call.on_upstream_event(SPEECH_STARTED, 0.15)
    assert [(e["type"], e["item_id"]) for e in upstream(actions)] == [
        ("conversation.item.truncate", "item_A"),
        ("conversation.item.delete", "item_B"),
    ]
    assert upstream(actions)[0]["audio_end_ms"] == 100
    assert call.on_upstream_event(delta(b"\x02" * 160, item="item_B"), 0.2) == []


def test_unsent_remainder_counts_as_unheard_audio() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 250), 0.0))  # 160 sent, 90 held back
    assert call.buffered_out_bytes == 90
    echo(call, names[0], 0.02)
    assert not call.playing
    actions = call.on_upstream_event(SPEECH_STARTED, 0.1)
    assert twilio(actions) == []  # Twilio has nothing queued
    assert upstream(actions)[0]["audio_end_ms"] == 20
    assert call.stats.unsent_discarded_bytes == 90
    assert call.buffered_out_bytes == 0


def test_marks_for_discarded_audio_do_not_move_the_position() -> None:
    call = make_call(extrapolate_playback=False)
    call.on_upstream_event(created(), 0.0)
    old = marks(call.on_upstream_event(delta(b"\x01" * 1600), 0.0))
    call.on_upstream_event(SPEECH_STARTED, 0.1)
    call.on_upstream_event(done(status="cancelled"), 0.1)
    call.on_upstream_event(created("resp_2"), 1.0)
    new = marks(call.on_upstream_event(delta(b"\x02" * 1600, item="item_B", response="resp_2"), 1.0))
    assert echo(call, old[0], 1.01) == []  # arrives late, after new audio was queued
    assert call.playing and call.heard_ms("item_A") == 0 and call.heard_ms("item_B") == 0
    echo(call, new[0], 1.2)
    assert call.heard_ms("item_B") == 200 and not call.playing


def test_unknown_marks_are_ignored() -> None:
    call = make_call()
    assert echo(call, "someone-else", 0.0) == []
    assert call.stats.marks_ignored == 1


def test_echoing_a_later_mark_confirms_the_earlier_ones() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    names = [n for size in (160, 320, 480) for n in marks(call.on_upstream_event(delta(b"\x01" * size), 0.0))]
    echo(call, names[2], 0.2)
    assert call.heard_ms("item_A") == 120 and not call.playing


# -- outbound audio --------------------------------------------------------------------------------


def test_passthrough_bytes_are_untouched_and_cut_into_20ms_frames() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    rng = np.random.default_rng(1)
    sizes = [4000, 37, 160, 1, 999, 3200, 321]
    given_audio = [rng.integers(0, 256, size, dtype=np.uint8).tobytes() for size in sizes]
    frames: list[bytes] = []
    for chunk in given_audio:
        actions = call.on_upstream_event(delta(chunk), 0.0)
        frames += media_bytes(actions)
        kinds = [m["event"] for m in twilio(actions)]
        if kinds:
            assert kinds[-1] == "mark" and kinds.count("mark") == 1  # one mark, after the delta's frames
    frames += media_bytes(call.on_upstream_event(audio_done(), 0.0))
    assert b"".join(frames) == b"".join(given_audio)
    assert {len(f) for f in frames[:-1]} == {160}
    assert 0 < len(frames[-1]) <= 160
    assert call.stats.twilio_sent_bytes == call.stats.outbound_accepted_bytes == sum(sizes)


def test_larger_outbound_messages() -> None:
    call = make_call(outbound_frame_ms=100)
    call.on_upstream_event(created(), 0.0)
    frames = media_bytes(call.on_upstream_event(delta(b"\x01" * 4000), 0.0))
    assert [len(f) for f in frames] == [800] * 5


def test_response_done_flushes_an_item_without_audio_done() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 100), 0.0)
    actions = call.on_upstream_event(done(), 0.0)
    assert media_bytes(actions) == [b"\x01" * 100]
    assert mark_position(marks(actions)[0]) == ("item_A", 12)


def test_a_new_item_flushes_the_previous_one_first() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 200, item="item_A"), 0.0)
    actions = call.on_upstream_event(delta(b"\x02" * 160, item="item_B"), 0.0)
    assert media_bytes(actions) == [b"\x01" * 40, b"\x02" * 160]
    assert [mark_position(n)[0] for n in marks(actions)] == ["item_A", "item_B"]


def test_transcoding_out_frames_are_exactly_20ms_and_continuous() -> None:
    call = make_call(output_format="audio/pcm", input_format="audio/pcm")
    call.on_upstream_event(created(), 0.0)
    signal = sine(24000, 1.0)
    pcm = signal.tobytes()
    rng = np.random.default_rng(2)
    frames: list[bytes] = []
    position = 0
    while position < len(pcm):
        size = int(rng.integers(1, 9000))  # odd sizes split samples across deltas
        frames += media_bytes(call.on_upstream_event(delta(pcm[position : position + size]), 0.0))
        position += size
    tail = media_bytes(call.on_upstream_event(audio_done(), 0.0))
    assert {len(f) for f in frames} == {160}
    assert all(0 < len(f) <= 160 for f in tail)
    out = np.frombuffer(ulaw_to_pcm16(b"".join(frames + tail)), dtype=np.int16).astype(np.int32)
    assert len(out) == 8000  # one second in, one second out
    # Continuity: the frame-by-frame stream matches resampling the whole signal at once.
    whole = np.frombuffer(
        ulaw_to_pcm16(pcm16_to_ulaw(soxr.resample(signal, 24000, 8000).tobytes())), np.int16
    )
    # One mu-law step at most (a 1-LSB difference may land on the other side of a step, which is
    # 1/16 of the level at the top segment).
    assert (np.abs(out - whole.astype(np.int32)) <= np.abs(whole) // 16 + 32).all()
    step = np.abs(np.diff(out)).max()
    assert step <= 1.1 * 2 * 10000 * math.sin(math.pi * 440 / 8000) + 64


def test_transcoding_state_is_reset_after_a_barge_in() -> None:
    call = make_call(output_format="audio/pcm", input_format="audio/pcm", extrapolate_playback=False)
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(sine(24000, 0.5).tobytes()), 0.0)
    call.on_upstream_event(SPEECH_STARTED, 0.1)
    call.on_upstream_event(created("resp_2"), 1.0)
    silence = bytes(24000 * 2 // 2)  # 0.5 s of zeros
    actions = call.on_upstream_event(delta(silence, item="item_B", response="resp_2"), 1.0)
    actions += call.on_upstream_event(audio_done(item="item_B", response="resp_2"), 1.0)
    out = np.frombuffer(ulaw_to_pcm16(b"".join(media_bytes(actions))), dtype=np.int16)
    assert len(out) == 4000
    assert np.abs(out).max() <= 8  # nothing of the interrupted sine leaks into the next item


def test_audio_before_start_is_a_caller_error() -> None:
    call = PhoneCall()
    with pytest.raises(PhoneError, match="start"):
        call.on_upstream_event(delta(b"\x01" * 160), 0.0)


def test_bad_delta_payload() -> None:
    call = make_call()
    with pytest.raises(PhoneError, match="base64"):
        call.on_upstream_event({**delta(b""), "delta": "@@@"}, 0.0)
    with pytest.raises(PhoneError):
        call.on_upstream_event({**delta(b""), "delta": None}, 0.0)


def test_other_upstream_events_are_ignored() -> None:
    call = make_call()
    for event in (
        {"type": "response.output_audio_transcript.delta", "delta": "hi"},
        {"type": "session.updated", "session": {}},
        {"no": "type"},
    ):
        assert call.on_upstream_event(event, 0.0) == []


# -- inbound audio ---------------------------------------------------------------------------------


def test_inbound_passthrough_batches_80ms_and_flushes_at_stop() -> None:
    call = make_call()
    frames = [bytes([n]) * 160 for n in range(6)]
    appends: list[JSON] = []
    for n, frame in enumerate(frames):
        appends += upstream(call.on_twilio_message(caller_frame(frame, n), n * 0.02))
        if n < 3:
            assert appends == []
    appends += upstream(call.on_twilio_message(Stop(SID, CALL, "AC1"), 0.2))
    assert [e["type"] for e in appends] == ["input_audio_buffer.append"] * 2
    audio = [base64.b64decode(e["audio"]) for e in appends]
    assert [len(a) for a in audio] == [640, 320]
    assert b"".join(audio) == b"".join(frames)
    assert call.ended and call.stats.inbound_bytes == call.stats.appended_bytes == 960
    assert call.on_twilio_message(caller_frame(frames[0], 7), 0.3) == []
    assert call.on_twilio_message(Stop(SID, CALL, "AC1"), 0.3) == []


def test_inbound_outbound_track_is_ignored() -> None:
    call = make_call(inbound_batch_ms=20)
    assert call.on_twilio_message(Media(SID, "outbound", 1, 0, b"\x01" * 160), 0.0) == []


def test_inbound_transcoding_960_bytes_per_20ms_after_warm_up() -> None:
    call = make_call(input_format="audio/pcm", output_format="audio/pcm", inbound_batch_ms=20)
    signal = sine(8000, 1.0)
    ulaw = pcm16_to_ulaw(signal.tobytes())
    chunks: list[bytes] = []
    for n in range(50):
        chunks += [
            base64.b64decode(e["audio"])
            for e in upstream(call.on_twilio_message(caller_frame(ulaw[n * 160 : (n + 1) * 160], n), 0.0))
        ]
    assert chunks and {len(c) for c in chunks} == {960}
    chunks += [
        base64.b64decode(e["audio"]) for e in upstream(call.on_twilio_message(Stop(SID, CALL, "AC1"), 1.0))
    ]
    pcm = np.frombuffer(b"".join(chunks), dtype=np.int16).astype(np.int32)
    assert len(pcm) == 24000  # the flush at stop delivers the resampler's tail
    whole = soxr.resample(np.frombuffer(ulaw_to_pcm16(ulaw), dtype=np.int16), 8000, 24000)
    assert np.abs(pcm - whole.astype(np.int32)).max() <= 2


def test_inbound_transcoding_default_batch() -> None:
    call = make_call(input_format="audio/pcm", output_format="audio/pcmu")
    sizes: list[int] = []
    for n in range(100):
        for e in upstream(call.on_twilio_message(caller_frame(b"\xff" * 160, n), 0.0)):
            sizes.append(len(base64.b64decode(e["audio"])))
    assert set(sizes) == {3840}  # 80 ms at 24 kHz PCM16


def test_start_is_checked() -> None:
    call = PhoneCall()
    with pytest.raises(PhoneError, match="media format"):
        call.on_twilio_message(start_msg(encoding="audio/x-alaw"), 0.0)
    call.on_twilio_message(start_msg(), 0.0)
    assert call.stream_sid == SID and call.start is not None and call.start.custom_parameters["token"] == "t"
    with pytest.raises(PhoneError, match="second"):
        call.on_twilio_message(start_msg(), 0.0)


def test_unsupported_config() -> None:
    with pytest.raises(ValueError):
        PhoneConfig(input_format="audio/opus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        PhoneConfig(outbound_frame_ms=0)


def test_alaw_upstream_is_transcoded_without_resampling() -> None:
    call = make_call(output_format="audio/pcma", input_format="audio/pcma", inbound_batch_ms=20)
    call.on_upstream_event(created(), 0.0)
    alaw = pcm16_to_alaw(sine(8000, 0.02).tobytes())
    frames = media_bytes(call.on_upstream_event(delta(alaw), 0.0))
    assert frames == [pcm16_to_ulaw(alaw_to_pcm16(alaw))]
    ulaw = pcm16_to_ulaw(sine(8000, 0.02).tobytes())
    appended = upstream(call.on_twilio_message(caller_frame(ulaw), 0.0))
    assert base64.b64decode(appended[0]["audio"]) == pcm16_to_alaw(ulaw_to_pcm16(ulaw))


# -- DTMF ------------------------------------------------------------------------------------------


def test_dtmf_becomes_a_user_message_and_a_response() -> None:
    call = make_call()
    actions = call.on_twilio_message(Dtmf(SID, "inbound_track", "1"), 0.0)
    item_create, response_create = upstream(actions)
    assert item_create["type"] == "conversation.item.create"
    assert item_create["item"] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "The caller pressed 1."}],
    }
    assert response_create["type"] == "response.create"
    assert call.digits == "1"


def test_dtmf_during_a_response_interrupts_and_defers_the_response() -> None:
    call = make_call(extrapolate_playback=False)
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 1600), 0.0))
    actions = call.on_twilio_message(Dtmf(SID, "inbound_track", "5"), 0.1)
    assert twilio(actions)[0]["event"] == "clear"
    # Keypresses are not speech: no server-side cancel, so we cancel; the answer waits for it.
    assert upstream_types(actions) == [
        "response.cancel",
        "conversation.item.delete",
        "conversation.item.create",
    ]
    assert echo(call, names[0], 0.11) == []
    assert upstream_types(call.on_upstream_event(done(status="cancelled"), 0.2)) == ["response.create"]


def test_dtmf_can_leave_playback_alone() -> None:
    call = make_call(dtmf_interrupts=False)
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 1600), 0.0)
    actions = call.on_twilio_message(Dtmf(SID, "inbound_track", "5"), 0.1)
    assert upstream_types(actions) == ["conversation.item.create"]
    assert call.playing


def test_dtmf_collect_until_terminator() -> None:
    call = make_call(dtmf_mode="collect")
    for digit in "123":
        assert call.on_twilio_message(Dtmf(SID, "inbound_track", digit), 0.0) == []
    actions = call.on_twilio_message(Dtmf(SID, "inbound_track", "#"), 0.5)
    assert upstream(actions)[0]["item"]["content"][0]["text"] == "The caller entered 123."
    assert upstream_types(actions) == ["conversation.item.create", "response.create"]
    assert call.on_twilio_message(Dtmf(SID, "inbound_track", "#"), 0.6) == []  # nothing collected
    assert call.digits == "123##"


def test_dtmf_collect_timeout_and_max_digits() -> None:
    call = make_call(dtmf_mode="collect", dtmf_timeout_s=2.0, dtmf_max_digits=4)
    call.on_twilio_message(Dtmf(SID, "inbound_track", "4"), 10.0)
    call.on_twilio_message(Dtmf(SID, "inbound_track", "2"), 11.0)
    assert call.tick(12.9) == []
    actions = call.tick(13.0)
    assert upstream(actions)[0]["item"]["content"][0]["text"] == "The caller entered 42."
    assert call.tick(20.0) == []
    for digit in "987":
        assert call.on_twilio_message(Dtmf(SID, "inbound_track", digit), 21.0) == []
    actions = call.on_twilio_message(Dtmf(SID, "inbound_track", "6"), 21.0)
    assert upstream(actions)[0]["item"]["content"][0]["text"] == "The caller entered 9876."


def test_dtmf_off_only_records() -> None:
    call = make_call(dtmf_mode="off")
    assert call.on_twilio_message(Dtmf(SID, "inbound_track", "9"), 0.0) == []
    assert call.digits == "9"


# -- hang-up ---------------------------------------------------------------------------------------


def test_hangup_waits_for_the_last_mark() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 8000), 0.0))
    assert call.request_hangup(0.1, "goodbye") == []
    names += marks(call.on_upstream_event(delta(b"\x01" * 100), 0.2))
    names += marks(call.on_upstream_event(audio_done(), 0.2))
    assert call.on_upstream_event(done(), 0.2) == []
    assert echo(call, names[0], 1.0) == []
    assert echo(call, names[-1], 1.1) == [HangUp("goodbye")]
    assert call.hung_up
    assert call.tick(100.0) == []  # once only


def test_hangup_waits_for_the_response_to_finish() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    assert call.request_hangup(0.0) == []
    assert call.on_upstream_event(done(), 0.5) == [HangUp("end_call")]


def test_hangup_after_the_next_response() -> None:
    call = make_call()
    assert call.request_hangup(0.0, after_next_response=True) == []
    assert call.tick(1.0) == []
    call.on_upstream_event(created("resp_bye"), 1.0)
    names = marks(call.on_upstream_event(delta(b"\x01" * 160, response="resp_bye"), 1.0))
    assert call.on_upstream_event(done("resp_bye"), 1.1) == []
    assert echo(call, names[0], 1.2) == [HangUp("end_call")]


def test_hangup_when_idle_is_immediate() -> None:
    call = make_call()
    assert call.request_hangup(0.0, "done") == [HangUp("done")]
    assert call.request_hangup(0.0, "again") == []


def test_hangup_grace_timeout() -> None:
    call = make_call(hangup_timeout_s=5.0)
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 160), 0.0)
    call.on_upstream_event(done(), 0.0)
    assert call.request_hangup(1.0) == []
    assert call.tick(5.9) == []
    (hangup,) = call.tick(6.0)
    assert isinstance(hangup, HangUp) and hangup.reason.startswith("end_call")
    assert call.tick(7.0) == []


def test_hangup_can_be_cancelled_and_is_moot_after_stop() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    call.request_hangup(0.0)
    call.cancel_hangup()
    assert call.on_upstream_event(done(), 0.1) == []
    call.on_twilio_message(Stop(SID, CALL, "AC1"), 0.2)
    assert call.request_hangup(0.3) == []


def test_a_barge_in_on_the_goodbye_still_hangs_up() -> None:
    call = make_call()
    call.on_upstream_event(created(), 0.0)
    call.on_upstream_event(delta(b"\x01" * 8000), 0.0)
    call.on_upstream_event(done(), 0.0)
    assert call.request_hangup(0.1) == []
    actions = call.on_upstream_event(SPEECH_STARTED, 0.5)
    assert twilio(actions)[0]["event"] == "clear"
    assert actions[-1] == HangUp("end_call")


# -- latency metric --------------------------------------------------------------------------------


def test_turn_latency_from_speech_stopped_to_first_audio() -> None:
    call = make_call()
    call.on_upstream_event(SPEECH_STOPPED, 1.0)
    call.on_upstream_event(created(), 1.2)
    assert call.on_upstream_event(delta(b"\x01" * 100), 1.3) == []  # no frame yet
    actions = call.on_upstream_event(delta(b"\x01" * 100), 1.5)
    metrics = [a for a in actions if isinstance(a, Metric)]
    assert len(metrics) == 1 and metrics[0].name == "turn_latency_ms"
    assert metrics[0].value == pytest.approx(500.0)
    assert not [a for a in call.on_upstream_event(delta(b"\x01" * 160), 1.6) if isinstance(a, Metric)]


def test_no_turn_latency_when_the_caller_resumes_speaking() -> None:
    call = make_call()
    call.on_upstream_event(SPEECH_STOPPED, 1.0)
    call.on_upstream_event(SPEECH_STARTED, 1.1)
    call.on_upstream_event(created(), 1.2)
    actions = call.on_upstream_event(delta(b"\x01" * 160), 1.3)
    assert not [a for a in actions if isinstance(a, Metric)]


# -- mark names ------------------------------------------------------------------------------------


def test_mark_names() -> None:
    assert mark_name("item_A", 1500.9, 7) == "item_A:1500:7"
    assert parse_mark_name("item_A:1500:7") == ("item_A", 1500, 7)
    assert parse_mark_name("weird:id:20:3") == ("weird:id", 20, 3)
    assert parse_mark_name("nope") is None
    assert parse_mark_name("a:b:c") is None


# -- properties ------------------------------------------------------------------------------------


@dataclass
class FakeTwilio:
    """Plays what it is sent in real time and echoes marks, as Twilio does (section 18.2)."""

    call: PhoneCall
    queue: list[tuple[str, str, bytes]] = field(default_factory=list)  # (kind, item or mark name, audio)
    played: dict[str, int] = field(default_factory=dict)
    sent: dict[str, bytearray] = field(default_factory=dict)
    truncates: list[JSON] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    hangups: int = 0

    def take(self, actions: list[PhoneAction]) -> None:
        held: list[bytes] = []
        for action in actions:
            if isinstance(action, SendToTwilio):
                msg = orjson.loads(action.text)
                if msg["event"] == "media":
                    held.append(base64.b64decode(msg["media"]["payload"]))
                elif msg["event"] == "mark":
                    name = msg["mark"]["name"]
                    parsed = parse_mark_name(name)
                    assert parsed is not None
                    for audio in held:  # media precedes its item's mark
                        self.queue.append(("media", parsed[0], audio))
                        self.sent.setdefault(parsed[0], bytearray()).extend(audio)
                    held.clear()
                    self.queue.append(("mark", name, b""))
                else:
                    assert msg["event"] == "clear"
                    echoes = [name for kind, name, _ in self.queue if kind == "mark"]
                    self.queue.clear()
                    for name in echoes:
                        assert self.call.on_twilio_message(Mark(SID, name), 0.0) == []
            elif isinstance(action, SendUpstream):
                if action.event["type"] == "conversation.item.truncate":
                    self.truncates.append(action.event)
                elif action.event["type"] == "conversation.item.delete":
                    self.deletes.append(action.event["item_id"])
            elif isinstance(action, HangUp):
                self.hangups += 1
        assert not held, "media sent without a mark after it"

    def play(self, ms: int, now: float) -> None:
        budget = ms * 8
        while self.queue:
            kind, key, audio = self.queue[0]
            if kind == "mark":
                self.queue.pop(0)
                self.take(self.call.on_twilio_message(Mark(SID, key), now))
                continue
            if budget <= 0:
                return
            used = min(budget, len(audio))
            self.played[key] = self.played.get(key, 0) + used
            budget -= used
            if used == len(audio):
                self.queue.pop(0)
            else:
                self.queue[0] = (kind, key, audio[used:])


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("delta"), st.integers(min_value=0, max_value=1), st.integers(min_value=0, max_value=3000)
        ),
        st.tuples(st.just("play"), st.integers(min_value=0, max_value=400)),
        st.tuples(st.just("wait"), st.integers(min_value=0, max_value=400)),
        st.just(("speech_started",)),
        st.just(("audio_done",)),
        st.just(("response_done",)),
        st.just(("new_response",)),
        st.just(("hangup",)),
    ),
    max_size=60,
)


def run_script(
    script: list[tuple[Any, ...]], **config: Any
) -> tuple[PhoneCall, FakeTwilio, dict[str, bytearray]]:
    call = make_call(**config)
    fake = FakeTwilio(call)
    given_audio: dict[str, bytearray] = {}
    now = 0.0
    response = 0
    fake.take(call.on_upstream_event(created(f"resp_{response}"), now))
    active = True
    counter = 0
    for step in script:
        now += 0.001
        kind = step[0]
        if kind == "delta" and active:
            item = f"item_{response}_{step[1]}"
            audio = bytes((counter + i) % 251 for i in range(step[2]))  # distinct bytes per position
            counter += step[2]
            given_audio.setdefault(item, bytearray()).extend(audio)
            fake.take(call.on_upstream_event(delta(audio, item=item, response=f"resp_{response}"), now))
        elif kind == "play":
            now += step[1] / 1000
            fake.play(step[1], now)
        elif kind == "wait":
            now += step[1] / 1000
            fake.take(call.tick(now))
        elif kind == "speech_started":
            fake.take(call.on_upstream_event(SPEECH_STARTED, now))
        elif kind == "audio_done" and active:
            for index in (0, 1):
                fake.take(
                    call.on_upstream_event(audio_done(f"item_{response}_{index}", f"resp_{response}"), now)
                )
        elif kind == "response_done" and active:
            fake.take(call.on_upstream_event(done(f"resp_{response}"), now))
            active = False
        elif kind == "new_response" and not active:
            response += 1
            fake.take(call.on_upstream_event(created(f"resp_{response}"), now))
            active = True
        elif kind == "hangup":
            fake.take(call.request_hangup(now))
    return call, fake, given_audio


@settings(max_examples=300, deadline=None)
@given(steps, st.booleans(), st.sampled_from(["audio/pcmu", "audio/pcm"]))
def test_truncate_never_beyond_produced_or_played(
    script: list[tuple[Any, ...]], extrapolate: bool, fmt: str
) -> None:
    call, fake, given_audio = run_script(script, extrapolate_playback=extrapolate, output_format=fmt)
    bytes_per_ms = 8 if fmt == "audio/pcmu" else 48
    for truncate in fake.truncates:
        item = truncate["item_id"]
        assert truncate["content_index"] == 0
        assert 0 < truncate["audio_end_ms"] <= len(given_audio[item]) / bytes_per_ms
        assert truncate["audio_end_ms"] <= call.produced_ms(item)
        if not extrapolate:
            # Marks alone never claim more than Twilio really played.
            assert truncate["audio_end_ms"] <= fake.played.get(item, 0) / 8
    truncated = [t["item_id"] for t in fake.truncates]
    assert len(set(truncated)) == len(truncated)  # an item is cut once
    assert not set(truncated) & set(fake.deletes)
    assert fake.hangups <= 1


@settings(max_examples=300, deadline=None)
@given(steps)
def test_every_byte_is_sent_or_explicitly_discarded(script: list[tuple[Any, ...]]) -> None:
    call, fake, given_audio = run_script(script)
    stats = call.stats
    total_given = sum(len(a) for a in given_audio.values())
    assert stats.outbound_accepted_bytes + stats.outbound_dropped_bytes == total_given
    assert stats.outbound_accepted_bytes == (
        stats.twilio_sent_bytes + stats.unsent_discarded_bytes + call.buffered_out_bytes
    )
    assert stats.twilio_sent_bytes == sum(len(a) for a in fake.sent.values())
    for item, sent in fake.sent.items():
        # Passthrough: what Twilio got for an item is a prefix of what the upstream produced for it.
        assert bytes(sent) == bytes(given_audio[item][: len(sent)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=40), st.sampled_from([20, 40, 80, 100]))
def test_inbound_passthrough_is_lossless(sizes: list[int], batch_ms: int) -> None:
    call = make_call(inbound_batch_ms=batch_ms)
    sent = bytearray()
    given_audio = bytearray()
    batches: list[bytes] = []
    for n, size in enumerate(sizes):
        audio = bytes((n + i) % 256 for i in range(size))
        given_audio += audio
        batches += [
            base64.b64decode(e["audio"])
            for e in upstream(call.on_twilio_message(caller_frame(audio, n), 0.0))
        ]
    assert all(len(b) == batch_ms * 8 for b in batches)
    batches += [
        base64.b64decode(e["audio"]) for e in upstream(call.on_twilio_message(Stop(SID, CALL, "AC1"), 1.0))
    ]
    for batch in batches:
        sent += batch
    assert bytes(sent) == bytes(given_audio)
