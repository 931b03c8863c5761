"""A whole booking call: ``voxgate call``'s code plays Twilio, the simulator plays the model.

The shipped ``salon_phone_booking`` scenario makes the simulator hear the caller's turn as the
booking in one breath; the salon tools book on the business whose number was dialled, and the
agent confirms, says goodbye and hangs up (``end_call``) once that last line was heard. The
simulator reads "mâine" against its own calendar (the real date, in Bucharest), so the gateway's
wall clock is moved to today's date at 09:00: both agree on what tomorrow is, and the time of day
never depends on when the test runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phone_testkit import Phone, PhoneFactory, post_signed, webhook_form
from voxgate.business import resolve_business
from voxgate.caller import CallResult, Press, Script, Speak, place_call, synthesize_speech
from voxgate.caller.report import format_result
from voxgate.caller.twiml import parse_twiml
from voxgate.simulator import SimulatorOptions, shipped_scenario
from voxgate.store.demo import load_demo
from voxgate.store.models import Appointment, Business, BusinessHours, Service
from voxgate.store.models import Client as SalonClient
from voxgate.tools.ro_time import BUCHAREST

pytestmark = pytest.mark.timeout(200)

BELLA_NUMBER = "+40213123456"
CALLER_NUMBER = "+40733999888"
SCENARIO = "salon_phone_booking"


def nine_am_today() -> datetime:
    return datetime.combine(datetime.now(BUCHAREST).date(), time(9, 0), BUCHAREST).astimezone(UTC)


def caller_turns() -> list[str]:
    return list(shipped_scenario(SCENARIO).transcripts)


async def salon_phone(make_phone: PhoneFactory) -> tuple[Phone, async_sessionmaker[AsyncSession]]:
    # Real-time pace: the agent's audio arrives as fast as it is played (as from a real model), so
    # the goodbye is queued behind nothing when end_call starts waiting for it to be heard.
    options = SimulatorOptions(
        scenarios=[shipped_scenario(SCENARIO)], timezone="Europe/Bucharest", pace="realtime"
    )
    phone = await make_phone(simulator_options=options)
    phone.clock.offset = nine_am_today() - datetime.now(UTC)
    db: async_sessionmaker[AsyncSession] = phone.app_state.gateway.db
    if await resolve_business(db, slug="bella") is None:
        await load_demo(db)
    tomorrow = nine_am_today().astimezone(BUCHAREST).date() + timedelta(days=1)
    if tomorrow.weekday() == 6:  # the demo salon is closed on Sunday: open it for the test
        async with db() as session, session.begin():
            bella = await session.scalar(select(Business.id).where(Business.slug == "bella"))
            assert bella is not None
            session.add(BusinessHours(business_id=bella, weekday=6, opens=time(9), closes=time(19)))
    return phone, db


async def book(phone: Phone, **script_options: Any) -> CallResult:
    """The whole call; the caller stays on the line until the gateway hangs up."""
    # What the simulator hears is scripted, so any speech will do; one without pauses, so that its
    # voice activity detection sees each turn as a single utterance (a comma's pause can split one).
    audio = synthesize_speech("Bună ziua vă rog frumos", "ro")
    steps: list[Speak | Press] = [Speak(audio, text) for text in caller_turns()]
    # The simulated model reads every tool result aloud before it confirms: a long reply. Wait for
    # all of it to be played; the caller never talks over the agent.
    script_options.setdefault("reply_silence_ms", 2500.0)
    script_options.setdefault("max_wait_ms", 120_000.0)
    script_options.setdefault("hang_up", False)
    spec = phone.spec(to_number=BELLA_NUMBER, from_number=CALLER_NUMBER)
    result = await place_call(spec, Script(steps, **script_options), max_call_s=170)
    print(format_result(result))
    assert result.protocol_errors == []
    return result


async def test_a_booking_call_creates_the_appointment_for_the_dialled_salon(
    make_phone: PhoneFactory,
) -> None:
    phone, db = await salon_phone(make_phone)
    result = await book(phone)

    # The dialled number picked the business: it travels in the stream's parameters.
    assert result.twiml is not None and result.twiml.stream is not None
    assert result.twiml.stream.parameters["business"] == "bella"
    record = phone.record(result.spec.call_sid)
    assert record.outcome == "booked", record.transcript
    assert record.upstream_errors == []
    assert result.barge_ins == [] and result.cleared_bytes == 0, "the caller never talked over the agent"
    tomorrow = nine_am_today().astimezone(BUCHAREST).date() + timedelta(days=1)
    lines = [e["text"] for e in record.transcript if e["role"] == "assistant"]
    last = lines[-1]
    assert last.startswith("Gata, v-am programat pentru Tuns") and last.endswith("La revedere!"), lines
    assert tomorrow.isoformat() in last and "10:00" in last and "Ana Popescu" in last

    # end_call: the goodbye was played to the end, then the gateway closed the stream and hung up.
    assert result.ended_by == "gateway closed the stream"
    assert result.played_bytes == result.received_bytes
    assert record.stats["marks_echoed"] == record.stats["marks_sent"]
    assert record.end_reason == "agent_ended"
    assert result.after is not None and result.after.verbs == ["Hangup"]

    async with db() as session:
        (appointment,) = list(await session.scalars(select(Appointment)))
        service = await session.get(Service, appointment.service_id)
        client = await session.get(SalonClient, appointment.client_id)
        bella = await session.scalar(select(Business.id).where(Business.slug == "bella"))
    assert service is not None and service.name == "Tuns"
    assert client is not None and (client.name, client.phone) == ("Ana Popescu", "+40722123456")
    start = appointment.start_at.astimezone(BUCHAREST)
    assert (start.date(), start.time()) == (tomorrow, time(10, 0))
    assert (appointment.source, appointment.status) == ("voice", "booked")
    assert appointment.business_id == bella
    assert phone.app_state.gateway.sessions == {}


async def test_the_dialled_number_picks_the_business(make_phone: PhoneFactory) -> None:
    phone, db = await salon_phone(make_phone)
    async with db() as session, session.begin():
        session.add(
            Business(slug="roma", kind="salon", name="Salon Roma", phone_number="+40213999000", language="ro")
        )

    async def streamed_business(call_sid: str, to: str) -> str:
        form = webhook_form(call_sid, To=to)
        response = await post_signed(phone.voice_url, form)
        assert response.status_code == 200, response.text
        twiml = parse_twiml(response.text)
        assert twiml.stream is not None
        return twiml.stream.parameters["business"]

    assert await streamed_business("CA" + "1" * 32, "+40 21 399 9000") == "roma"
    assert await streamed_business("CA" + "2" * 32, BELLA_NUMBER) == "bella"
    # A number no business has: the phone agent's default business (the first salon).
    assert await streamed_business("CA" + "3" * 32, "+40311000222") == "bella"
    roma = await resolve_business(db, slug="roma")
    assert roma is not None
    bridge = phone.line.claim("CA" + "1" * 32)
    assert bridge is not None and bridge.session.business_id == roma.id
    await bridge.abandon("caller_hung_up")
