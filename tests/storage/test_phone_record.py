"""A phone call leaves a complete record: its session, events, transcript with the interruption, the call."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from storekit import relayed_count, settled, stored_events

from phone_testkit import PhoneFactory
from voxgate.agents.profiles import SALON
from voxgate.caller import Script, Speak, place_call, synthesize_speech
from voxgate.store import models
from voxgate.store.queries import get_session

pytestmark = pytest.mark.timeout(90)

HELLO = "Bună ziua, aș vrea o programare."


async def test_a_phone_call_leaves_a_complete_ordered_record(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    script = Script([Speak(synthesize_speech(HELLO, "ro"), HELLO)], reply_silence_ms=700.0, linger_ms=300.0)
    script.barge_in_at_ms = 1500  # the caller talks over the greeting
    result = await place_call(phone.spec(), script, max_call_s=60)
    assert result.protocol_errors == []
    app = phone.app_state.gateway
    await settled(app)
    live = phone.record(result.spec.call_sid)

    async with app.db() as db:
        call = await db.scalar(select(models.Call).where(models.Call.call_sid == result.spec.call_sid))
        assert call is not None
        detail = await get_session(db, live.session_id)
    assert detail is not None

    # The call as Twilio and the gateway saw it.
    assert call.session_id == live.session_id
    assert call.from_number == result.spec.from_number and call.to_number == result.spec.to_number
    assert call.status == "completed" and call.outcome == "no_action"
    assert call.ended_at is not None and call.duration_s is not None
    assert [h["status"] for h in call.status_history] == [r.status for r in live.status_history]
    assert call.status_history[-1]["status"] == "completed"

    # The session: phone channel, the caller, how it ended, and the figures.
    assert detail.channel == "phone" and detail.agent == SALON.name
    assert detail.caller == result.spec.from_number and detail.client_id is None
    assert detail.end_reason == "caller_hung_up"
    assert detail.barge_ins == 1
    assert detail.call is not None and detail.call.call_sid == result.spec.call_sid

    events = await stored_events(app.db, live.session_id)
    assert [e.seq for e in events] == list(range(len(events)))
    assert relayed_count(events) == detail.events_in + detail.events_out
    types = {e.type for e in events}
    assert {"input_audio_buffer.append", "response.output_audio.delta", "conversation.item.truncate"} <= types

    # The transcript: the greeting as far as it was heard, the caller, the answer.
    roles = [t.role for t in detail.transcript]
    assert roles == ["assistant", "user", "assistant"]
    greeting, caller, answer = detail.transcript
    (truncation,) = live.truncations
    assert greeting.truncated and greeting.audio_end_ms == truncation["audio_end_ms"]
    assert SALON.greeting.startswith(greeting.text) and len(greeting.text) < len(SALON.greeting)
    assert caller.text and answer.text and not answer.truncated
    assert [u.response_id for u in detail.usage] and detail.usage_totals.cost_usd > 0
