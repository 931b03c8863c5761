"""The phone line's pure parts as data: call records, TwiML, Twilio's playout, the caller's turn-taking."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from voxgate.caller.playout import Playout
from voxgate.caller.turns import HangUpNow, Press, Script, SendDigits, Speak, StartSpeaking, TurnTaker
from voxgate.caller.twiml import parse_twiml
from voxgate.protocol.calls import FINAL_STATUSES, CallRecord, CallRegistry, status_rank
from voxgate.protocol.phone import PhoneCall, PhoneConfig, SendToTwilio
from voxgate.protocol.twilio import MediaFormat, Start
from voxgate.protocol.twiml import apology_twiml, hangup_twiml, stream_twiml

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- call records ------------------------------------------------------------------------------------

STATUSES = ["queued", "initiated", "ringing", "in-progress", *sorted(FINAL_STATUSES)]


@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=12))
def test_a_status_never_moves_backwards_and_the_first_final_one_stays(reports: list[str]) -> None:
    registry = CallRegistry()
    registry.open("CA1", at=T0, business="salon")
    for sequence, status in enumerate(reports):
        registry.report_status("CA1", status, at=at(sequence), source="callback", sequence=sequence)
    record = registry.get("CA1")
    assert record is not None
    finals = [s for s in reports if s in FINAL_STATUSES]
    if finals:
        assert record.status == finals[0]
    else:
        assert status_rank(record.status) == max(status_rank(s) for s in [*reports, "queued"])
    assert len(record.status_history) == len(reports)


def test_repeated_reports_change_nothing_and_listeners_hear_every_change() -> None:
    registry = CallRegistry()
    seen: list[str] = []
    registry.subscribe(lambda record: seen.append(record.status))
    registry.open("CA1", at=T0, business="salon", from_number="+40722000111")
    assert registry.report_status("CA1", "ringing", at=at(1), source="callback", sequence=1)
    assert not registry.report_status("CA1", "ringing", at=at(2), source="callback", sequence=1)
    assert not registry.report_status("CAunknown", "ringing", at=at(2), source="callback")
    assert seen == ["queued", "ringing"]


def test_a_broken_recorder_does_not_break_the_call() -> None:
    registry = CallRegistry()

    def broken(record: CallRecord) -> None:
        raise RuntimeError("database down")

    registry.subscribe(broken)
    record = registry.open("CA1", at=T0, business="salon")
    assert record.status == "queued"


def test_finishing_a_call_keeps_the_first_ending_and_computes_the_duration() -> None:
    registry = CallRegistry()
    registry.open("CA1", at=T0, business="salon")
    registry.stream_started("CA1", at=at(2), stream_sid="MZ1", session_id="vgs_1")
    record = registry.finish("CA1", at=at(62.5), end_reason="agent_ended")
    assert record is not None
    assert (record.duration_s, record.end_reason, record.outcome) == (60.5, "agent_ended", "no_action")
    registry.finish("CA1", at=at(90), end_reason="caller_hung_up")
    assert (record.ended_at, record.end_reason) == (at(62.5), "agent_ended")
    assert not record.active
    summary = record.summary()
    assert summary["duration_s"] == 60.5 and summary["end_reason"] == "agent_ended"


def test_only_active_calls_of_the_business_count_against_its_limit() -> None:
    registry = CallRegistry()
    registry.open("CA1", at=T0, business="salon")
    registry.open("CA2", at=T0, business="salon")
    registry.open("CA3", at=T0, business="bartender")
    registry.finish("CA2", at=at(1), end_reason="caller_hung_up")
    assert registry.active_count("salon") == 1
    assert registry.active_count("salon", excluding="CA1") == 0


def test_the_registry_forgets_the_oldest_ended_calls_first() -> None:
    registry = CallRegistry(max_records=2)
    registry.open("CA1", at=T0, business="salon")
    registry.finish("CA1", at=at(1), end_reason="caller_hung_up")
    registry.open("CA2", at=T0, business="salon")
    registry.open("CA3", at=T0, business="salon")
    assert [r.call_sid for r in registry] == ["CA2", "CA3"]


# -- TwiML -----------------------------------------------------------------------------------------------


def test_the_twiml_we_build_reads_back_as_twilio_reads_it() -> None:
    parsed = parse_twiml(
        stream_twiml(
            "wss://gw/twilio/stream", {"token": "v1.a.b", "business": "salon"}, action_url="https://gw/after"
        )
    )
    assert parsed.verbs == ["Connect"]
    assert parsed.stream is not None
    assert (parsed.stream.url, parsed.stream.action) == ("wss://gw/twilio/stream", "https://gw/after")
    assert parsed.stream.parameters == {"token": "v1.a.b", "business": "salon"}
    apology = parse_twiml(apology_twiml("ro", "busy", fallback_number="+40213111111"))
    assert apology.verbs == ["Say", "Dial"] and apology.dialed == ["+40213111111"]
    assert parse_twiml(hangup_twiml()).hangup


# -- Twilio's playout --------------------------------------------------------------------------------------


def test_marks_come_back_once_the_audio_before_them_has_played() -> None:
    playout = Playout()
    playout.mark("first")  # nothing queued before it: echoed on the next step
    playout.media(b"\x01" * 400)  # 50 ms
    playout.mark("a")
    playout.media(b"\x02" * 160)  # 20 ms
    playout.mark("b")
    step = playout.advance(20)
    assert (len(step.audio), step.marks) == (160, ["first"])
    step = playout.advance(20)
    assert (len(step.audio), step.marks) == (160, [])
    step = playout.advance(20)
    assert len(step.audio) == 160 and step.marks == ["a"]  # 80 bytes of the first media, 80 of the second
    assert step.audio == b"\x01" * 80 + b"\x02" * 80
    step = playout.advance(20)
    assert (len(step.audio), step.marks, playout.idle) == (80, ["b"], True)


def test_clear_drops_the_queue_and_returns_the_pending_marks() -> None:
    playout = Playout()
    playout.media(b"\x01" * 800)
    playout.mark("a")
    playout.media(b"\x01" * 800)
    playout.mark("b")
    playout.advance(60)
    assert playout.clear() == ["a", "b"]
    assert playout.idle and playout.queued_bytes == 0
    assert playout.advance(20).audio == b""


# -- the caller's turns ----------------------------------------------------------------------------------


def test_the_caller_waits_for_the_greeting_then_speaks_presses_and_hangs_up() -> None:
    hello = Speak(b"\x00" * 1600, "hello")
    turns = TurnTaker(Script([hello, Press("1")], reply_silence_ms=100, linger_ms=50))
    turns.agent_audio_arrived(40)
    assert turns.tick(60, 20) is None  # greeting playing
    assert turns.tick(100, 0) is None
    command = turns.tick(200, 0)  # 100 ms of quiet after the greeting
    assert command == StartSpeaking(hello)
    turns.finished_speaking(400)
    turns.agent_audio_arrived(650)
    assert turns.turns[0].latency_ms == 250
    turns.tick(700, 20)
    assert isinstance(turns.tick(820, 0), SendDigits)
    turns.agent_audio_arrived(900)
    turns.tick(920, 20)
    assert turns.tick(1030, 0) is None  # last reply over: lingering
    assert isinstance(turns.tick(1090, 0), HangUpNow)
    assert turns.greeting_ms == 40


def test_barge_in_starts_speaking_over_the_greeting() -> None:
    hello = Speak(b"\x00" * 1600, "hello")
    turns = TurnTaker(Script([hello], barge_in_at_ms=100))
    turns.agent_audio_arrived(0)
    for now in range(20, 100, 20):
        assert turns.tick(now, 20) is None
    assert turns.tick(100, 20) == StartSpeaking(hello)
    assert turns.turns[0].barge_in and turns.reply_heard_ms == 100


# -- larger media messages -----------------------------------------------------------------------------


def test_a_deltas_whole_frames_go_to_twilio_in_messages_of_up_to_the_configured_size() -> None:
    call = PhoneCall(PhoneConfig(outbound_message_ms=100))
    call.on_twilio_message(Start("MZ1", "CA1", "AC1", ("inbound",), {}, MediaFormat()), 0.0)
    audio = bytes(range(256)) * 10  # 2560 bytes = 320 ms of mu-law
    event = {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "delta": ""}
    event["delta"] = base64.b64encode(audio).decode()
    sent = [orjson.loads(a.text) for a in call.on_upstream_event(event, 0.0) if isinstance(a, SendToTwilio)]
    media = [base64.b64decode(m["media"]["payload"]) for m in sent if m["event"] == "media"]
    assert [len(m) for m in media] == [800, 800, 800, 160]  # 100 + 100 + 100 + 20 ms; nothing held back
    assert b"".join(media) == audio
    assert [m["mark"]["name"] for m in sent if m["event"] == "mark"] == ["i:320:1"]
