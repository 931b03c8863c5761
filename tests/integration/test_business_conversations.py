"""Whole conversations through the gateway against the simulator, leaving the expected rows.

The simulator picks tools from the caller's words and fills their arguments (and, for the salon's
one-breath booking, the shipped ``salon_booking`` scenario scripts the first lookups). Its brain
reads "mâine" against its own calendar (the real date, in Bucharest), so the gateway's injected
clock is today's date at a fixed 09:00: both agree on what tomorrow is, and the time of day never
depends on when the test runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from realtime_testkit import Client, connect
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.simulator import SimulatorOptions, create_simulator_app, shipped_scenario
from voxgate.store.models import (
    Appointment,
    Business,
    BusinessHours,
    IdCheck,
    MenuItem,
    Order,
    OrderLine,
    Service,
)
from voxgate.store.models import (
    Client as SalonClient,
)
from voxgate.tools.cnp import check_digit
from voxgate.tools.ro_time import BUCHAREST

BOOKING = "Vreau o programare pentru tuns mâine la 10, mă numesc Ana Pop, 0722 123 456"


def nine_am_today() -> datetime:
    """Today (in Bucharest, as the simulator sees it) at 09:00, read afresh at every call."""
    return datetime.combine(datetime.now(BUCHAREST).date(), time(9, 0), BUCHAREST).astimezone(UTC)


def adult_cnp() -> str:
    first12 = "190010140123"  # a man born on 1 January 1990, registered in Bucharest
    return first12 + str(check_digit(first12))


@pytest.fixture
async def business_simulator() -> AsyncIterator[BackgroundServer]:
    options = SimulatorOptions(scenarios=[shipped_scenario("salon_booking")], timezone="Europe/Bucharest")
    server = await start_background_server(create_simulator_app(options))
    yield server
    await server.stop()


@pytest.fixture
async def business_gateway(make_gateway: Any, business_simulator: BackgroundServer) -> Any:
    return await make_gateway(business_simulator.http_url, wall_clock=nine_am_today)


def _db(gateway: Any) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = gateway.app_gateway.db
    return factory


async def _turn(
    client: Client, text: str, *, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Say ``text``; collect events (tool rounds included) until ``until`` holds for them."""
    start = len(client.received)
    await client.say(text)
    while True:
        await client.until("response.done", timeout=20)
        events = client.received[start:]
        if until(events):
            return events


def _calls(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e["type"] == "response.function_call_arguments.done"]


def _outputs(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["item"]["output"]
        for e in events
        if e["type"] == "conversation.item.added" and e["item"].get("type") == "function_call_output"
    ]


def _spoken(events: list[dict[str, Any]]) -> list[str]:
    return [e["transcript"] for e in events if e["type"] == "response.output_audio_transcript.done"]


def _settled(events: list[dict[str, Any]]) -> bool:
    """Every tool call has its output, and the agent has spoken since the last one."""
    outputs = [
        i
        for i, e in enumerate(events)
        if e["type"] == "conversation.item.added" and e["item"].get("type") == "function_call_output"
    ]
    if len(outputs) < len(_calls(events)):
        return False
    after = outputs[-1] + 1 if outputs else 0
    return any(e["type"] == "response.output_audio_transcript.done" for e in events[after:])


async def _open_sunday_if_tomorrow_is_one(db: async_sessionmaker[AsyncSession]) -> None:
    """The demo salon is closed on Sunday: on a Saturday, open it tomorrow so the booking can happen."""
    tomorrow = nine_am_today().astimezone(BUCHAREST).date() + timedelta(days=1)
    if tomorrow.weekday() != 6:
        return
    async with db() as session, session.begin():
        bella = await session.scalar(select(Business.id).where(Business.slug == "bella"))
        session.add(BusinessHours(business_id=bella, weekday=6, opens=time(9), closes=time(19)))


async def test_the_salon_books_a_caller_in_one_breath(business_gateway: Any) -> None:
    db = _db(business_gateway)
    await _open_sunday_if_tomorrow_is_one(db)
    client = await connect(business_gateway.ws + "/openai/realtime/caller-1?business=bella")
    hello = await client.recv()
    assert hello["type"] == "connection_established" and hello["agent"] == "salon"

    events = await _turn(
        client, BOOKING, until=lambda evs: "create_voice_appointment" in _calls(evs) and _settled(evs)
    )

    # Services, availability and the client lookup first; then the booking; then a confirmation.
    calls = _calls(events)
    assert set(calls[:3]) == {
        "get_available_services",
        "check_appointment_availability",
        "find_existing_client",
    }
    assert calls[3:] == ["create_voice_appointment"]
    tomorrow = nine_am_today().astimezone(BUCHAREST).date() + timedelta(days=1)
    confirmation = _spoken(events)[-1]
    assert "v-am programat pentru Tuns" in confirmation and tomorrow.isoformat() in confirmation
    assert "10:00" in confirmation and "Ana Pop" in confirmation
    assert all('"error"' not in output for output in _outputs(events)), _outputs(events)
    client.assert_all_ga_events_valid()
    await client.ws.close()

    async with db() as session:
        clients = list(await session.scalars(select(SalonClient)))
        assert [(c.name, c.phone) for c in clients] == [("Ana Pop", "+40722123456")]
        appointments = list(await session.scalars(select(Appointment)))
        assert len(appointments) == 1
        booked = appointments[0]
        service = await session.get(Service, booked.service_id)
        assert service is not None and service.name == "Tuns"
        start = booked.start_at.astimezone(BUCHAREST)
        assert (start.date(), start.time()) == (tomorrow, time(10, 0))
        assert booked.end_at - booked.start_at == timedelta(minutes=45)
        assert (booked.source, booked.status, booked.client_id) == ("voice", "booked", clients[0].id)
        assert booked.session_id == hello["session_id"]


async def test_a_returning_client_is_found_and_a_taken_time_gets_alternatives(
    business_gateway: Any,
) -> None:
    db = _db(business_gateway)
    await _open_sunday_if_tomorrow_is_one(db)
    first = await connect(business_gateway.ws + "/openai/realtime/caller-1?business=bella")
    await first.recv()
    await _turn(first, BOOKING, until=lambda evs: "create_voice_appointment" in _calls(evs) and _settled(evs))
    await first.ws.close()

    # Someone else wants the same time: the check says taken, and the booking is refused with alternatives.
    second = await connect(business_gateway.ws + "/openai/realtime/caller-2?agent=salon")
    await second.recv()
    events = await _turn(
        second,
        "Vreau o programare pentru tuns mâine la 10, mă numesc Ion Popescu, 0733 111 222",
        until=lambda evs: "create_voice_appointment" in _calls(evs) and _settled(evs),
    )
    outputs = _outputs(events)
    assert any('"reason":"taken"' in o for o in outputs), outputs
    assert any('"code":"taken"' in o and '"alternatives"' in o for o in outputs), outputs
    assert "nu a mers" in _spoken(events)[-1]

    # Ana calls again: she is found by her number, with her appointment.
    third = await connect(business_gateway.ws + "/openai/realtime/caller-3?business=bella")
    await third.recv()
    events = await _turn(
        third,
        "Vreau o programare pentru coafat poimâine la 11, mă numesc Ana Pop, 0722 123 456",
        until=lambda evs: "create_voice_appointment" in _calls(evs) and _settled(evs),
    )
    found = next(o for o in _outputs(events) if '"found"' in o)
    assert '"found":true' in found and '"client_name":"Ana Pop"' in found
    async with db() as session:
        rows = list(await session.scalars(select(Appointment).order_by(Appointment.start_at)))
        assert len(rows) == 2 and len({r.client_id for r in rows}) == 1
        assert len(list(await session.scalars(select(SalonClient)))) == 1


async def test_the_bartender_shows_the_menu_and_serves_after_an_id_check(business_gateway: Any) -> None:
    db = _db(business_gateway)
    client = await connect(business_gateway.ws + "/openai/realtime/guest-1?business=blue-note")
    hello = await client.recv()
    assert hello["agent"] == "bartender"

    menu = await _turn(client, "Hi! What's on the menu?", until=_settled)
    assert _calls(menu) == ["get_menu"]
    assert "Mojito, 32 lei" in _spoken(menu)[-1]

    refused = await _turn(client, "I'd like a Mojito, please.", until=_settled)
    assert _calls(refused) == ["place_order"]
    assert "id_check_required" in _outputs(refused)[0] and "check_id" in _spoken(refused)[-1]

    checked = await _turn(client, f"Sure, my ID number is {adult_cnp()}.", until=_settled)
    assert _calls(checked)[0] == "check_id"
    assert '"may_serve_alcohol":true' in _outputs(checked)[0]

    ordered = await _turn(client, "Great, one Mojito then.", until=_settled)
    assert _calls(ordered) == ["place_order"]
    assert "confirmed" in _spoken(ordered)[-1] and "total 32" in _spoken(ordered)[-1]
    client.assert_all_ga_events_valid()
    await client.ws.close()

    async with db() as session:
        orders = list(await session.scalars(select(Order)))
        assert len(orders) == 1 and orders[0].session_id == hello["session_id"]
        assert float(orders[0].total) == 32.0
        lines = list(await session.scalars(select(OrderLine)))
        mojito = await session.scalar(select(MenuItem).where(MenuItem.name == "Mojito"))
        assert mojito is not None and mojito.stock == 39
        assert [(line.menu_item_id, line.quantity) for line in lines] == [(mojito.id, 1)]
        checks = list(await session.scalars(select(IdCheck)))
        assert [(c.session_id, c.valid, c.adult) for c in checks] == [(hello["session_id"], True, True)]
