"""Whole calls over real sockets: the caller simulator plays Twilio against voxgate and the simulator."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from phone_testkit import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    TRANSFER_NUMBER,
    Phone,
    PhoneFactory,
    TwilioStandIn,
    eventually,
)
from voxgate.agents.profiles import SALON
from voxgate.caller import (
    CallResult,
    Press,
    Script,
    Speak,
    place_call,
    read_wav,
    synthesize_speech,
    write_wav,
)
from voxgate.caller.report import format_result
from voxgate.protocol.phone import parse_mark_name

pytestmark = pytest.mark.timeout(90)

HELLO = "Bună ziua, aș vrea o programare."
SCENARIO: list[dict[str, Any]] = [
    {"when": "pressed 1", "say": "Ați apăsat tasta unu."},
    {"when": "pressed 9", "call": "end_call", "arguments": {"reason": "the caller is done"}},
    {"after": "end_call", "say": "La revedere, o zi bună!"},
    {"when": "pressed 0", "call": "transfer_to_human", "arguments": {"reason": "wants a person"}},
    {"after": "transfer_to_human", "say": "Vă transfer la un coleg."},
    {"when": "pressed 5", "drop": 1011},
]


def speak(text: str = HELLO) -> Speak:
    return Speak(synthesize_speech(text, "ro"), text)


def script(*steps: Speak | Press, **options: Any) -> Script:
    options.setdefault("reply_silence_ms", 700.0)
    options.setdefault("linger_ms", 300.0)
    return Script(list(steps), **options)


async def call(phone: Phone, the_script: Script, **spec: Any) -> CallResult:
    result = await place_call(phone.spec(**spec), the_script, max_call_s=60)
    print(format_result(result))
    assert result.protocol_errors == []
    return result


async def assert_upstream_closed(phone: Phone) -> None:
    assert phone.app_state.gateway.sessions == {}

    async def simulator_idle() -> bool:
        return await phone.simulator_sessions() == 0

    await eventually(simulator_idle)


def assistant_lines(record: Any) -> list[str]:
    return [entry["text"] for entry in record.transcript if entry["role"] == "assistant"]


@pytest.mark.parametrize("audio", ["pcmu", "pcm"])
async def test_a_call_hears_the_greeting_and_a_reply(
    make_phone: PhoneFactory, audio: str, tmp_path: Path
) -> None:
    phone = await make_phone(phone_audio=audio)
    result = await call(phone, script(speak()))
    assert result.webhook_status == 200
    assert result.greeting_latency_ms is not None
    (turn,) = result.turns
    assert turn.latency_ms is not None, "the agent answered the caller"
    assert result.ended_by.startswith("caller hung up")
    assert result.cleared_bytes == 0 and result.played_bytes == result.received_bytes
    assert result.received_bytes > 8 * 4000  # the greeting and the answer, several seconds

    record = phone.record(result.spec.call_sid)
    lines = assistant_lines(record)
    assert lines[0] == SALON.greeting
    assert len(lines) == 2 and "V-am auzit" in lines[1]
    assert [e["role"] for e in record.transcript] == ["assistant", "caller", "assistant"]
    assert record.end_reason == "caller_hung_up" and record.outcome == "no_action"
    assert record.status == "completed"  # the status callback the caller sent at the end
    assert record.duration_s is not None and record.duration_s > 0
    assert record.greeting_latency_ms is not None and len(record.turn_latencies_ms) == 1
    assert record.upstream_errors == []
    assert record.stats["marks_sent"] == len(result.echoed_marks)
    assert result.record is not None and result.record["transcript"] == record.transcript
    await assert_upstream_closed(phone)

    wav = tmp_path / "agent.wav"
    write_wav(wav, bytes(result.agent_audio))
    assert abs(len(read_wav(wav)) - len(result.agent_audio)) <= 8


@pytest.mark.parametrize(
    ("pace", "case"),
    [("realtime", "A: the response is still streaming"), ("fast", "B: the response is already done")],
)
async def test_barge_in_truncates_at_what_the_marks_say_was_heard(
    make_phone: PhoneFactory, pace: str, case: str
) -> None:
    phone = await make_phone(pace=pace)
    result = await call(phone, script(speak(), barge_in_at_ms=1500))
    (barge,) = result.barge_ins
    assert barge.clear_at_ms is not None, "the gateway sent clear"
    record = phone.record(result.spec.call_sid)
    assert record.upstream_errors == [], "no 'already shorter' or any other upstream error"
    (truncation,) = record.truncations
    item, end_ms = truncation["item_id"], truncation["audio_end_ms"]

    # What the marks say: everything up to the last echoed mark of the item was heard; the first
    # mark echoed only because of the clear bounds what can have been heard.
    heard = [parse_mark_name(n) for n in barge.marks_before]
    heard_ms = max((ms for i, ms, _ in filter(None, heard) if i == item), default=0)
    discarded = [parse_mark_name(n) for n in barge.marks_cleared]
    bound = min((ms for i, ms, _ in filter(None, discarded) if i == item), default=None)
    assert heard_ms <= end_ms
    assert bound is not None and end_ms <= bound
    assert barge.agent_played_ms - 200 <= end_ms, "the caller heard at least this much before talking"

    if pace == "realtime":  # case A: what was never streamed is not cleared at Twilio
        assert result.cleared_bytes / 8 < 1000
    else:  # case B: the whole greeting was queued at Twilio, the unheard rest is cleared
        assert result.cleared_bytes / 8 > 1500
    greeting = record.transcript[0]
    assert greeting["item_id"] == item and greeting["interrupted_at_ms"] == end_ms
    assert record.barge_ins[0]["heard_ms"] == end_ms
    (turn,) = result.turns
    assert turn.barge_in and turn.latency_ms is not None, "the agent answered after the interruption"


async def test_dtmf_becomes_a_message_the_agent_answers(make_phone: PhoneFactory) -> None:
    phone = await make_phone(scenario=SCENARIO)
    result = await call(phone, script(Press("1")))
    record = phone.record(result.spec.call_sid)
    assert record.digits == "1"
    assert "Ați apăsat tasta unu." in assistant_lines(record)
    assert result.turns[0].latency_ms is not None


async def test_end_call_hangs_up_after_the_goodbye_was_heard(make_phone: PhoneFactory) -> None:
    phone = await make_phone(scenario=SCENARIO)
    result = await call(phone, script(Press("9"), hang_up=False, max_wait_ms=15_000))
    assert result.ended_by == "gateway closed the stream"
    record = phone.record(result.spec.call_sid)
    assert assistant_lines(record)[-1] == "La revedere, o zi bună!"
    # Every mark was echoed before the line closed: the goodbye was played to the end.
    assert result.played_bytes == result.received_bytes
    assert record.stats["marks_echoed"] == record.stats["marks_sent"]
    assert record.end_reason == "agent_ended"
    assert result.after is not None and result.after.verbs == ["Hangup"]
    await assert_upstream_closed(phone)


async def test_end_call_uses_the_rest_api_when_configured(
    make_phone: PhoneFactory, twilio_api: TwilioStandIn
) -> None:
    phone = await make_phone(scenario=SCENARIO, rest=twilio_api)
    result = await call(phone, script(Press("9"), hang_up=False, max_wait_ms=15_000))
    sid = result.spec.call_sid
    (update,) = twilio_api.requests
    assert update.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"
    assert update.form == {"Status": "completed"}
    assert phone.record(sid).end_reason == "agent_ended"


async def test_transfer_moves_the_call_through_the_rest_api(
    make_phone: PhoneFactory, twilio_api: TwilioStandIn
) -> None:
    phone = await make_phone(scenario=SCENARIO, rest=twilio_api, transfer_number=TRANSFER_NUMBER)
    result = await call(phone, script(Press("0"), hang_up=False, max_wait_ms=15_000))
    sid = result.spec.call_sid
    (update,) = twilio_api.requests
    assert update.path.endswith(f"/Calls/{sid}.json")
    assert f"<Dial>{TRANSFER_NUMBER}</Dial>" in update.form["Twiml"]
    assert "Vă transfer" in update.form["Twiml"]
    record = phone.record(sid)
    assert (record.end_reason, record.transfer_to) == ("transferred", TRANSFER_NUMBER)
    assert assistant_lines(record)[-1] == "Vă transfer la un coleg."
    assert result.played_bytes == result.received_bytes


async def test_transfer_without_the_rest_api_goes_through_what_next(make_phone: PhoneFactory) -> None:
    phone = await make_phone(scenario=SCENARIO, transfer_number=TRANSFER_NUMBER)
    result = await call(phone, script(Press("0"), hang_up=False, max_wait_ms=15_000))
    assert result.after is not None
    assert result.after.verbs == ["Say", "Dial"] and result.after.dialed == [TRANSFER_NUMBER]


async def test_transfer_is_refused_when_no_number_is_configured(make_phone: PhoneFactory) -> None:
    phone = await make_phone(scenario=SCENARIO)
    result = await call(phone, script(Press("0")))
    # The tool refuses (transfer_unavailable) and the call simply goes on until the caller hangs up.
    record = phone.record(result.spec.call_sid)
    assert (record.end_reason, record.transfer_to) == ("caller_hung_up", None)
    assert result.ended_by.startswith("caller hung up")


async def test_an_upstream_failure_ends_the_stream_with_an_apology(make_phone: PhoneFactory) -> None:
    phone = await make_phone(scenario=SCENARIO, upstream_reconnect_attempts=0)
    result = await call(phone, script(Press("5"), hang_up=False, max_wait_ms=10_000))
    assert result.ended_by == "gateway closed the stream"
    assert result.after is not None and result.after.verbs == ["Say", "Hangup"]
    assert "problemă tehnică" in result.after.said[0]
    record = phone.record(result.spec.call_sid)
    assert (record.end_reason, record.outcome) == ("upstream_failed", "failed")
    await assert_upstream_closed(phone)


async def test_an_outbound_call_connects_to_the_agent(
    make_phone: PhoneFactory, twilio_api: TwilioStandIn
) -> None:
    phone = await make_phone(rest=twilio_api, twilio_phone_number="+40311000222")
    async with httpx.AsyncClient() as http:
        refused = await http.post(phone.base + "/api/calls", json={"to": "0722"})
        placed = await http.post(phone.base + "/api/calls", json={"to": "+40722123456", "agent": "salon"})
    assert refused.status_code == 422
    assert placed.status_code == 201, placed.text
    body = placed.json()
    (create,) = twilio_api.requests
    assert create.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert create.form["To"] == "+40722123456" and create.form["From"] == "+40311000222"
    assert create.form["Url"] == phone.voice_url + "?agent=salon"
    assert create.form["StatusCallback"] == phone.base + "/api/twilio/status"
    assert body["call_sid"] == twilio_api.created[0]
    assert phone.record(body["call_sid"]).direction == "outbound-api"

    # Twilio dials; the callee answers; Twilio asks the voice webhook what to do, as for any call.
    result = await call(
        phone,
        script(speak()),
        webhook_url=create.form["Url"],
        call_sid=body["call_sid"],
        direction="outbound-api",
        from_number="+40311000222",
        to_number="+40722123456",
    )
    assert result.greeting_latency_ms is not None and result.turns[0].latency_ms is not None
    record = phone.record(body["call_sid"])
    assert record.direction == "outbound-api" and record.end_reason == "caller_hung_up"
    assert [r.source for r in record.status_history][:2] == ["rest", "voice"]


async def test_outbound_calls_need_the_rest_api(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    async with httpx.AsyncClient() as http:
        response = await http.post(phone.base + "/api/calls", json={"to": "+40722123456"})
    assert response.status_code == 503


async def test_voxgate_call_from_the_command_line(make_phone: PhoneFactory, tmp_path: Path) -> None:
    phone = await make_phone()
    wav = tmp_path / "agent.wav"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "VOXGATE_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "call", "--url", phone.base, "--say", HELLO, "--lang", "ro",
        "--record", str(wav), "--auth-token", AUTH_TOKEN,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 80)
    out = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert "greeting: first agent audio" in out and "turn 1:" in out
    assert SALON.greeting in out, "the transcript comes from the gateway's call record"
    assert len(read_wav(wav)) > 8 * 3000

    missing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "call", "--url", phone.base, "--say", "x",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, error = await missing.communicate()
    assert missing.returncode == 2 and b"--auth-token" in error and b"Traceback" not in error
