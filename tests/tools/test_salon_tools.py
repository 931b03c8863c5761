"""The salon's tools on a real database: services, free times and alternatives, clients, bookings.

The clock is Monday 4 March 2030, 09:00 in Bucharest; the demo salon opens Monday to Friday
09:00-19:00 and Saturday 10:00-16:00. "Tuns" takes 45 minutes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tools_testkit import Caller, business_id, ok, refused, snapshot

from voxgate.store.models import Appointment, Business, BusinessHours, Client, Service
from voxgate.tools.registry import ToolRegistry
from voxgate.tools.storage import OUTCOME_STATE_KEY

DB = async_sessionmaker[AsyncSession]
ANA = {"client_name": "Ana Pop", "phone": "0722 123 456"}


@pytest.fixture
def salon(registry: ToolRegistry, demo: DB) -> Caller:
    return Caller(registry, demo, "salon")


async def _book(salon: Caller, **arguments: Any) -> dict[str, Any]:
    return ok(await salon("create_voice_appointment", **{"service": "Tuns", **ANA, **arguments}))


def _times(alternatives: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(a["date"], a["time"]) for a in alternatives]


async def test_services_come_from_the_database(salon: Caller) -> None:
    listed = ok(await salon("get_available_services"))
    assert listed["salon"] == "Salon Bella" and listed["currency"] == "RON"
    services = {s["name"]: s for s in listed["services"]}
    assert set(services) == {"Tuns", "Tuns bărbați", "Vopsit", "Coafat", "Manichiură"}
    assert services["Vopsit"]["duration_min"] == 120 and services["Vopsit"]["price"] == 250.0
    assert services["Manichiură"]["category"] == "Unghii"


async def test_get_available_services_is_client_callable(salon: Caller) -> None:
    registry = salon.registry
    assert (await registry.call_from_client("get_available_services", {}, salon.context())).ok
    refused(
        await registry.call_from_client("create_voice_appointment", {}, salon.context()),
        "not_client_callable",
    )


async def test_romanian_days_and_times_are_understood(salon: Caller) -> None:
    free = ok(
        await salon("check_appointment_availability", service="tuns", date="mâine", preferred_time="la 10")
    )
    assert free["date"] == "2030-03-05" and free["weekday"] == "marți"
    assert free["requested_time"] == "10:00" and free["available"] is True
    assert free["service"] == "Tuns" and free["duration_min"] == 45
    half = ok(
        await salon(
            "check_appointment_availability",
            service="Tuns",
            date="poimâine",
            preferred_time="zece și jumătate",
        )
    )
    assert (half["date"], half["requested_time"], half["available"]) == ("2030-03-06", "10:30", True)
    # A day and time in one phrase, the way callers say it.
    both = ok(await salon("check_appointment_availability", service="Coafat", date="luni la 3"))
    assert (both["date"], both["requested_time"]) == ("2030-03-11", "15:00")
    iso = ok(await salon("check_appointment_availability", service="Coafat", date="2030-03-05"))
    assert iso["date"] == "2030-03-05" and iso["available"] is True


async def test_a_day_without_a_time_lists_its_free_times(salon: Caller) -> None:
    today = ok(await salon("check_appointment_availability", service="Vopsit", date="azi"))
    assert today["available"] is True and today["opening_hours"] == "09:00-19:00"
    times = today["free_times"]
    # 120 minutes from 09:00 on, every quarter hour, the last one ending at closing time.
    assert times[0] == "09:00" and times[-1] == "17:00" and len(times) == 33
    salon.later(3 * 60 + 10)  # 12:10: the morning is gone
    assert ok(await salon("check_appointment_availability", service="Vopsit", date="azi"))["free_times"][
        0
    ] == ("12:15")


async def test_a_taken_time_gets_the_nearest_alternatives(salon: Caller) -> None:
    await _book(salon, date="2030-03-05", time="10:00")
    taken = ok(
        await salon("check_appointment_availability", service="Tuns", date="mâine", preferred_time="10:00")
    )
    assert taken["available"] is False and taken["reason"] == "taken"
    # Nearest first; a tie (45 minutes either side) goes to the earlier time.
    assert _times(taken["alternatives"]) == [
        ("2030-03-05", "09:15"),
        ("2030-03-05", "10:45"),
        ("2030-03-05", "09:00"),
    ]
    assert taken["alternatives"][0]["start"] == "2030-03-05T09:15:00+02:00"
    # 10:30 overlaps the booking too; 10:45 is free again (the booking ends then).
    assert not ok(
        await salon("check_appointment_availability", service="Tuns", date="mâine", preferred_time="10:30")
    )["available"]
    assert ok(
        await salon("check_appointment_availability", service="Tuns", date="mâine", preferred_time="10:45")
    )["available"]


async def test_a_closed_day_proposes_the_next_open_one(salon: Caller) -> None:
    sunday = ok(
        await salon("check_appointment_availability", service="Tuns", date="duminică", preferred_time="10")
    )
    assert sunday["date"] == "2030-03-10" and sunday["available"] is False and sunday["reason"] == "closed"
    assert "opening_hours" not in sunday
    assert _times(sunday["alternatives"]) == [
        ("2030-03-11", "10:00"),
        ("2030-03-11", "09:45"),
        ("2030-03-11", "10:15"),
    ]
    whole_day = ok(await salon("check_appointment_availability", service="Tuns", date="duminică"))
    assert whole_day["available"] is False and whole_day["reason"] == "closed"
    assert _times(whole_day["alternatives"])[0] == ("2030-03-11", "09:00")


async def test_past_and_outside_hours(salon: Caller) -> None:
    past = ok(
        await salon("check_appointment_availability", service="Tuns", date="azi", preferred_time="08:30")
    )
    assert past["available"] is False and past["reason"] == "past"
    assert _times(past["alternatives"])[0] == ("2030-03-04", "09:00")
    long_ago = ok(
        await salon("check_appointment_availability", service="Tuns", date="2020-01-06", preferred_time="10")
    )
    assert long_ago["reason"] == "past" and _times(long_ago["alternatives"])[0] == ("2030-03-04", "10:00")
    late = ok(
        await salon("check_appointment_availability", service="Tuns", date="sâmbătă", preferred_time="15:30")
    )
    assert late["available"] is False and late["reason"] == "outside_hours"
    assert late["opening_hours"] == "10:00-16:00" and _times(late["alternatives"])[0] == (
        "2030-03-09",
        "15:15",
    )


async def test_unreadable_days_and_times(salon: Caller, demo: DB) -> None:
    before = await snapshot(demo)
    refused(await salon("check_appointment_availability", service="Tuns", date="cândva"), "invalid_date")
    refused(
        await salon("check_appointment_availability", service="Tuns", date="mâine", preferred_time="devreme"),
        "invalid_time",
    )
    refused(
        await salon("create_voice_appointment", service="Tuns", date="mâine", time="25:00", **ANA),
        "invalid_time",
    )
    assert await snapshot(demo) == before


async def test_booking_creates_the_client_and_the_appointment(salon: Caller, demo: DB) -> None:
    booked = await _book(salon, date="mâine", time="la 10")
    assert booked["booked"] is True and booked["new_client"] is True
    assert (booked["date"], booked["weekday"], booked["time"], booked["end_time"]) == (
        "2030-03-05",
        "marți",
        "10:00",
        "10:45",
    )
    assert booked["client_name"] == "Ana Pop" and booked["phone"] == "+40722123456"
    assert booked["service"] == "Tuns" and booked["price"] == 120.0
    assert salon.state[OUTCOME_STATE_KEY] == "booked"
    async with demo() as db:
        appointment = await db.get(Appointment, booked["appointment_id"])
        assert appointment is not None
        assert appointment.start_at == datetime(2030, 3, 5, 8, 0, tzinfo=UTC)
        assert appointment.end_at - appointment.start_at == timedelta(minutes=45)
        assert (appointment.source, appointment.status, appointment.session_id) == (
            "voice",
            "booked",
            "vgs_test",
        )
        clients = list(await db.scalars(select(Client)))
        assert [(c.name, c.phone) for c in clients] == [("Ana Pop", "+40722123456")]

    # The same phone in another spelling is the same client; a service may be given by its id.
    coafat = next(s for s in ok(await salon("get_available_services"))["services"] if s["name"] == "Coafat")
    again = await _book(salon, date="mâine", time="11:00", phone="+40 722-123-456", service=str(coafat["id"]))
    assert again["new_client"] is False and again["client_id"] == booked["client_id"]
    assert again["service"] == "Coafat"


async def test_find_existing_client_by_phone(salon: Caller) -> None:
    missing = ok(await salon("find_existing_client", phone="0722 123 456"))
    assert missing == {"found": False, "phone": "+40722123456"}
    booked = await _book(salon, date="mâine", time="10:00")
    found = ok(await salon("find_existing_client", phone="0040722123456"))
    assert (
        found["found"] is True
        and found["client_name"] == "Ana Pop"
        and found["client_id"] == booked["client_id"]
    )
    assert [
        (a["appointment_id"], a["service"], a["date"], a["time"]) for a in found["upcoming_appointments"]
    ] == [(booked["appointment_id"], "Tuns", "2030-03-05", "10:00")]
    refused(await salon("find_existing_client", phone="0722 12"), "invalid_phone")


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"date": "azi", "time": "08:00"}, "past"),
        ({"date": "2029-12-02", "time": "10:00"}, "past"),
        ({"date": "duminică", "time": "10:00"}, "closed"),
        ({"date": "mâine", "time": "18:30"}, "outside_hours"),
        ({"date": "mâine", "time": "07:00"}, "outside_hours"),
        ({"date": "mâine", "time": "10:00", "phone": "0722 12"}, "invalid_phone"),
        ({"date": "mâine", "time": "10:00", "phone": "0722 ABC 456"}, "invalid_phone"),
        ({"date": "mâine", "time": "10:00", "client_name": "Ana\x00"}, "invalid_name"),
        ({"date": "mâine", "time": "10:00", "service": "Masaj"}, "unknown_service"),
        ({"date": "mâine", "time": "10:00", "service": "999"}, "unknown_service"),
    ],
)
async def test_refused_bookings_change_nothing(
    salon: Caller, demo: DB, arguments: dict[str, Any], code: str
) -> None:
    before = await snapshot(demo)
    call = {"service": "Tuns", **ANA, **arguments}
    error = refused(
        await salon("create_voice_appointment", **{k: v for k, v in call.items() if v is not None}), code
    )
    if code in ("past", "closed", "outside_hours"):
        assert error["alternatives"], error
    if code == "unknown_service":
        assert "Tuns" in error["options"]
    assert await snapshot(demo) == before


async def test_overlapping_booking_is_refused_with_alternatives(salon: Caller, demo: DB) -> None:
    await _book(salon, date="mâine", time="10:00")
    before = await snapshot(demo)
    error = refused(
        await salon(
            "create_voice_appointment",
            service="Vopsit",
            date="mâine",
            time="09:00",
            client_name="Ion",
            phone="0733 111 222",
        ),
        "taken",
    )
    assert "alternatives" in error and error["alternatives"][0]["date"] == "2030-03-05"
    assert await snapshot(demo) == before  # not even the new client


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"date": "mâine", "time": "10:00", "client_name": "Ana Pop"},
        {"date": "mâine", "time": "10:00", "client_name": "", "phone": "0722123456", "service": "Tuns"},
        {"date": "mâine", "time": "10:00", "client_name": "Ana", "phone": "0722123456"},
        {"date": "mâine", "time": "10:00", "client_name": "Ana", "phone": "0722123456", "service": ""},
        {"date": "mâine", "time": "10:00", "client_name": "Ana", "phone": "0722123456", "service": 1},
        {"date": "mâine", "time": "10:00", "client_name": "Ana", "phone": "0722123456", "service_id": 1},
        {"date": "mâine", "time": "1", "client_name": "A", "phone": "0722123456", "service": "T", "x": 1},
        '{"date": "mâine"',
    ],
)
async def test_bad_arguments_from_the_model_change_nothing(
    salon: Caller, demo: DB, arguments: str | dict[str, Any]
) -> None:
    before = await snapshot(demo)
    result = await salon("create_voice_appointment", arguments)
    assert not result.ok and result.error_code in ("invalid_arguments", "malformed_json")
    assert not (await salon("check_appointment_availability", {"service": "Tuns"})).ok
    assert not (await salon("find_existing_client", {"phone": 722123456})).ok
    assert await snapshot(demo) == before


async def test_ambiguous_service_names_are_asked_about(salon: Caller, demo: DB) -> None:
    bella = await business_id(demo, "bella")
    async with demo() as db, db.begin():
        db.add_all(
            [
                Service(business_id=bella, name="Tratament păr", duration_min=30, price=Decimal(80)),
                Service(business_id=bella, name="Tratament față", duration_min=30, price=Decimal(90)),
            ]
        )
    error = refused(
        await salon("check_appointment_availability", service="tratament", date="mâine"), "ambiguous_service"
    )
    assert error["options"] == ["Tratament păr", "Tratament față"]
    assert ok(await salon("check_appointment_availability", service="tratament fata", date="mâine"))[
        "service"
    ] == ("Tratament față")
    # "tuns" is the cut called "Tuns", not "Tuns bărbați"; "tuns barbati" is the men's cut.
    assert (
        ok(await salon("check_appointment_availability", service="tuns barbati", date="mâine"))[
            "duration_min"
        ]
        == 30
    )


async def test_twenty_concurrent_bookings_of_one_slot_make_one_appointment(
    registry: ToolRegistry, demo: DB
) -> None:
    callers = [Caller(registry, demo, "salon", session_id=f"vgs_{n}") for n in range(20)]
    barrier = asyncio.Barrier(len(callers))

    async def attempt(n: int, caller: Caller) -> Any:
        await barrier.wait()
        return await caller(
            "create_voice_appointment",
            service="Tuns",
            date="mâine",
            time="10:00",
            client_name=f"Client {n}",
            phone=f"0722 100 {n:03d}",
        )

    results = await asyncio.gather(*(attempt(n, c) for n, c in enumerate(callers)))
    winners = [r for r in results if r.ok]
    assert len(winners) == 1, [r.output for r in results]
    assert {r.error_code for r in results if not r.ok} == {"taken"}
    after = await snapshot(demo)
    # The losers left nothing: one appointment, its three 15-minute blocks, one client.
    assert (after["appointments"], after["appointment_slots"], after["clients"]) == (1, 3, 1)
    async with demo() as db:
        client = await db.scalar(select(Client))
        assert client is not None and client.name == winners[0].output["client_name"]


async def test_tools_act_on_the_sessions_salon(registry: ToolRegistry, demo: DB) -> None:
    async with demo() as db, db.begin():
        other = Business(slug="salon-doi", kind="salon", name="Salon Doi", language="ro")
        db.add(other)
        await db.flush()
        db.add(Service(business_id=other.id, name="Tuns", duration_min=60, price=Decimal(60)))
        db.add(
            BusinessHours(
                business_id=other.id,
                weekday=6,
                opens=datetime(2030, 1, 1, 9).time(),
                closes=datetime(2030, 1, 1, 12).time(),
            )
        )
        other_id = other.id
    doi = Caller(registry, demo, "salon", business_id=other_id)
    sunday = ok(
        await doi("check_appointment_availability", service="tuns", date="duminică", preferred_time="9")
    )
    assert sunday["available"] is True and sunday["duration_min"] == 60
    booked = ok(await doi("create_voice_appointment", service="tuns", date="duminică", time="9", **ANA))
    # The default salon (Bella) knows nothing of it: other clients, other calendar.
    bella = Caller(registry, demo, "salon")
    assert ok(await bella("find_existing_client", phone=ANA["phone"]))["found"] is False
    async with demo() as db:
        appointment = await db.get(Appointment, booked["appointment_id"])
        assert appointment is not None and appointment.business_id == other_id
    bar = Caller(registry, demo, "salon", business_id=await business_id(demo, "blue-note"))
    refused(await bar("get_available_services"), "wrong_business")


def test_slow_salon_tools_have_romanian_fillers(registry: ToolRegistry) -> None:
    for name in (
        "get_available_services",
        "check_appointment_availability",
        "find_existing_client",
        "create_voice_appointment",
    ):
        filler = registry.filler(name, "ro")
        assert filler is not None and filler.text.startswith("Un moment")
        english = registry.filler(name, "en")
        assert english is not None and english.text.startswith("One moment")
