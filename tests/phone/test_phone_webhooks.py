"""The voice webhook's TwiML, its apologies, the "what next" answers and the status callbacks."""

from __future__ import annotations

import httpx
import pytest

from phone_testkit import Phone, PhoneFactory, eventually, post_signed, signed_post_headers, webhook_form
from voxgate.caller.call import new_sid
from voxgate.caller.twiml import Twiml, parse_twiml
from voxgate.protocol import calltoken

pytestmark = pytest.mark.timeout(60)


async def voice(phone: Phone, call_sid: str, query: str = "") -> tuple[httpx.Response, Twiml]:
    response = await post_signed(phone.voice_url + query, webhook_form(call_sid))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    return response, parse_twiml(response.text)


async def test_the_voice_webhook_connects_a_stream_and_opens_the_session_ahead(
    make_phone: PhoneFactory,
) -> None:
    phone = await make_phone()
    call_sid = new_sid("CA")
    _, twiml = await voice(phone, call_sid)
    assert twiml.verbs == ["Connect"]
    stream = twiml.stream
    assert stream is not None
    public = phone.settings.public_url
    assert public is not None
    assert stream.url == "ws" + public[4:] + "/twilio/stream"  # wss:// for an https:// public URL
    assert stream.action == public + "/api/twilio/after"
    assert stream.status_callback == public + "/api/twilio/stream-status"
    assert set(stream.parameters) == {"token", "business"}
    assert stream.parameters["business"] == "bella"  # the demo salon (the default for the agent)
    assert len(stream.parameters["token"]) < 200  # Twilio caps <Parameter> sizes
    key = phone.settings.call_token_key
    assert key is not None
    claims = calltoken.verify(key, stream.parameters["token"], phone.clock().timestamp(), call_sid)
    assert claims.business == "salon"
    # The upstream session is already open while Twilio sets the stream up.
    assert f"call_{call_sid}" in phone.app_state.gateway.sessions
    assert await phone.simulator_sessions() == 1
    record = phone.record(call_sid)
    assert (record.status, record.from_number, record.direction) == ("ringing", "+40722000111", "inbound")


async def test_the_https_public_url_gives_a_wss_stream(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    # Behind a TLS proxy: Twilio signs and calls the public https URL; the app sees plain http.
    phone.line.settings.public_url = "https://calls.example.com/"
    form = webhook_form(new_sid("CA"))
    url = "https://calls.example.com/api/twilio/voice"
    async with httpx.AsyncClient() as http:
        response = await http.post(phone.voice_url, data=form, headers=signed_post_headers(url, form))
    assert response.status_code == 200
    stream = parse_twiml(response.text).stream
    assert stream is not None
    assert stream.url == "wss://calls.example.com/twilio/stream"
    assert stream.action == "https://calls.example.com/api/twilio/after"


async def test_a_session_whose_stream_never_comes_is_closed(make_phone: PhoneFactory) -> None:
    phone = await make_phone(stream_wait_seconds=0.3)
    call_sid = new_sid("CA")
    await voice(phone, call_sid)
    await eventually(lambda: phone.record(call_sid).ended_at is not None)
    assert phone.record(call_sid).end_reason == "stream_never_connected"
    assert phone.app_state.gateway.sessions == {}

    async def simulator_idle() -> bool:
        return await phone.simulator_sessions() == 0

    await eventually(simulator_idle)


async def test_apology_when_the_backend_is_down(make_phone: PhoneFactory) -> None:
    phone = await make_phone(dead_upstream=True)
    call_sid = new_sid("CA")
    _, twiml = await voice(phone, call_sid)
    assert twiml.verbs == ["Say", "Hangup"]
    assert "Ne pare rău" in twiml.said[0]
    assert 'language="ro-RO"' in (await post_signed(phone.voice_url, webhook_form(new_sid("CA")))).text
    record = phone.record(call_sid)
    assert (record.end_reason, record.outcome) == ("rejected_unavailable", "failed")
    assert phone.app_state.gateway.sessions == {}


async def test_apology_then_the_fallback_number(make_phone: PhoneFactory) -> None:
    phone = await make_phone(dead_upstream=True, fallback_number="+40213111111")
    _, twiml = await voice(phone, new_sid("CA"))
    assert twiml.verbs == ["Say", "Dial"]
    assert twiml.dialed == ["+40213111111"]


async def test_apology_when_the_business_is_over_its_call_limit(make_phone: PhoneFactory) -> None:
    phone = await make_phone(max_calls=1)
    first, second = new_sid("CA"), new_sid("CA")
    _, ok = await voice(phone, first)
    assert ok.stream is not None
    _, busy = await voice(phone, second)
    assert busy.verbs == ["Say", "Hangup"]
    assert "ocupate" in busy.said[0]
    assert phone.record(second).end_reason == "rejected_busy"
    # Another agent's line is not this business's limit.
    _, other = await voice(phone, new_sid("CA"), "?agent=bartender")
    assert other.stream is not None and other.stream.parameters["business"] == "blue-note"
    # The first call ends before its stream came: the line is free again.
    response = await post_signed(phone.base + "/api/twilio/status", webhook_form(first, "canceled"))
    assert response.status_code == 204
    assert phone.record(first).end_reason == "not_answered"
    _, again = await voice(phone, new_sid("CA"))
    assert again.stream is not None


async def test_what_next_after_the_stream(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    after = phone.base + "/api/twilio/after"
    calls = phone.line.calls
    now = phone.clock()
    for sid, reason in (
        ("CAnormal", "agent_ended"),
        ("CAfailed", "upstream_failed"),
        ("CAmoved", "transferred"),
    ):
        record = calls.open(sid, at=now, business="salon")
        record.end_reason = reason
    calls.get("CAmoved").transfer_to = "+40213000000"

    normal = parse_twiml((await post_signed(after, webhook_form("CAnormal", "in-progress"))).text)
    assert normal.verbs == ["Hangup"]
    failed = parse_twiml((await post_signed(after, webhook_form("CAfailed", "in-progress"))).text)
    assert failed.verbs == ["Say", "Hangup"] and "problemă tehnică" in failed.said[0]
    unknown = parse_twiml((await post_signed(after, webhook_form("CAunknown", "in-progress"))).text)
    assert unknown.verbs == ["Say", "Hangup"]
    moved = parse_twiml((await post_signed(after, webhook_form("CAmoved", "in-progress"))).text)
    assert moved.verbs == ["Say", "Dial"] and moved.dialed == ["+40213000000"]


async def test_status_callbacks_are_idempotent_and_never_go_backwards(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    status_url = phone.base + "/api/twilio/status"
    sid = new_sid("CA")

    async def report(status: str, sequence: int, **extra: str) -> None:
        form = webhook_form(
            sid, status, SequenceNumber=str(sequence), CallbackSource="call-progress-events", **extra
        )
        response = await post_signed(status_url, form)
        assert response.status_code == 204

    # Delivered out of order, with retries.
    await report("completed", 3, CallDuration="42", Timestamp="Sun, 22 Nov 2026 04:40:03 +0000")
    await report("ringing", 1)
    await report("completed", 3, CallDuration="42", Timestamp="Sun, 22 Nov 2026 04:40:03 +0000")
    await report("in-progress", 2)
    await report("initiated", 0)
    await report("ringing", 1)
    record = phone.record(sid)
    assert record.status == "completed"
    assert record.duration_s == 42
    assert [(r.status, r.sequence) for r in record.status_history] == [
        ("completed", 3),
        ("ringing", 1),
        ("in-progress", 2),
        ("initiated", 0),
    ]
    assert record.status_history[0].reported_at == "Sun, 22 Nov 2026 04:40:03 +0000"
    # A late final status of another kind does not replace the first.
    await report("failed", 4)
    assert phone.record(sid).status == "completed"
    assert record.ended_at is not None and record.end_reason == "caller_hung_up"

    async with httpx.AsyncClient() as http:
        listed = (await http.get(phone.base + "/api/calls")).json()
        one = (await http.get(phone.base + f"/api/calls/{sid}")).json()
        missing = await http.get(phone.base + "/api/calls/CAnothing")
    assert listed["calls"][0]["call_sid"] == sid
    assert one["status"] == "completed"
    assert [h["status"] for h in one["status_history"]] == [
        "completed",
        "ringing",
        "in-progress",
        "initiated",
        "failed",
    ]
    assert missing.status_code == 404


async def test_call_records_need_the_admin_key_when_one_is_set(make_phone: PhoneFactory) -> None:
    phone = await make_phone(admin_key="admin-secret-key")
    async with httpx.AsyncClient() as http:
        assert (await http.get(phone.base + "/api/calls")).status_code == 401
        ok = await http.get(phone.base + "/api/calls", headers={"Authorization": "Bearer admin-secret-key"})
    assert ok.status_code == 200
