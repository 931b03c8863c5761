"""Analytics against a hand-computed fixture: known rows in, exact figures out (SQLite and PostgreSQL).

The window is 6-8 January 2030 in Europe/Bucharest (UTC+2 in winter), so a session at 22:30 UTC on
the 6th counts on the 7th, at midnight local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store import models
from voxgate.store.analytics import analytics, window

TZ = ZoneInfo("Europe/Bucharest")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, day, hour, minute, tzinfo=UTC)


def session(
    sid: str, channel: str, agent: str, start: datetime, seconds: int | None, barge_ins: int = 0
) -> models.Session:
    return models.Session(
        id=sid,
        channel=channel,
        agent=agent,
        started_at=start,
        ended_at=start + timedelta(seconds=seconds) if seconds is not None else None,
        barge_ins=barge_ins,
    )


def call(
    sid: str, session_id: str | None, start: datetime, duration: int | None, outcome: str
) -> models.Call:
    return models.Call(
        call_sid=sid,
        session_id=session_id,
        started_at=start,
        ended_at=start + timedelta(seconds=duration if duration is not None else 5),
        duration_s=duration,
        outcome=outcome,
        status="completed",
        status_history=[],
    )


def tool(
    session_id: str, call_id: str, name: str, at: datetime, ms: float, ok: bool = True
) -> models.ToolCall:
    return models.ToolCall(
        session_id=session_id, call_id=call_id, name=name, arguments={}, result={} if ok else None,
        ok=ok, error=None if ok else "slot_taken: busy", duration_ms=ms, at=at,
    )  # fmt: skip


def usage(
    session_id: str, rid: str, at: datetime, tokens_in: int, tokens_out: int, cost: str
) -> models.Usage:
    return models.Usage(
        session_id=session_id, response_id=rid, at=at, input_tokens=tokens_in, output_tokens=tokens_out,
        cost_usd=Decimal(cost),
    )  # fmt: skip


async def load_fixture(db: AsyncSession, shift: timedelta = timedelta()) -> None:
    """The fixture; ``shift`` moves every time in it (the dashboard test puts it in the last days)."""

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return utc(day, hour, minute) + shift

    db.add_all(
        [
            session("s1", "web", "bartender", at(6, 21, 30), 120),  # local 06 23:30
            session("s2", "web", "bartender", at(6, 22, 30), 60),  # local 07 00:30
            session("s3", "phone", "salon", at(7, 8), 300, barge_ins=2),  # local 07 10:00
            session("s4", "phone", "salon", at(7, 9, 15), 180, barge_ins=1),  # local 07 11:15
            session("s5", "phone", "salon", at(8, 7), 90),  # local 08 09:00
            session("s6", "sdk", "bartender", at(8, 12), None),  # local 08 14:00, still active
            session("s7", "web", "bartender", at(5, 12), 30),  # before the window
            session("s8", "web", "bartender", at(8, 22, 30), 30),  # local 09 00:30: after it
        ]
    )
    await db.flush()
    db.add_all(
        [
            call("CA1", "s3", at(7, 7, 59), 300, "booked"),  # local 09:59
            call("CA2", "s4", at(7, 9, 14), 180, "no_action"),  # ordered in its session
            call("CA3", "s5", at(8, 6, 59), 90, "ordered"),  # local 08:59
            call("CA4", None, at(8, 10), None, "failed"),  # local 12:00, rejected: 5 s
            call("CA5", "s7", at(5, 11, 59), 30, "booked"),  # before the window
            tool("s3", "c1", "get_menu", at(7, 8, 1), 10),
            tool("s3", "c2", "get_menu", at(7, 8, 2), 30),
            tool("s4", "c3", "get_menu", at(7, 9, 16), 20),
            tool("s3", "c4", "book_appointment", at(7, 8, 3), 100),
            tool("s4", "c5", "book_appointment", at(7, 9, 17), 300, ok=False),
            tool("s7", "c6", "book_appointment", at(5, 12), 999, ok=False),  # before the window
            usage("s1", "r1", at(6, 21, 31), 100, 50, "0.01"),
            usage("s3", "r2", at(7, 8, 1), 1000, 500, "0.25"),
            usage("s3", "r3", at(7, 8, 3), 200, 100, "0.05"),
            usage("s5", "r4", at(8, 7, 1), 300, 300, "0.1"),
            usage("s7", "r5", at(5, 12), 5000, 5000, "9"),  # before the window
        ]
    )
    salon = models.Business(slug="salon", kind="salon", name="Salon")
    bar = models.Business(slug="bar", kind="bar", name="Bar")
    db.add_all([salon, bar])
    await db.flush()
    cut = models.Service(business_id=salon.id, name="Tuns", duration_min=30, price=Decimal(50))
    dye = models.Service(business_id=salon.id, name="Vopsit", duration_min=60, price=Decimal(150))
    client = models.Client(business_id=salon.id, name="Ana", phone="+40722000111")
    mojito = models.MenuItem(business_id=bar.id, name="Mojito", price=Decimal(30), stock=10)
    negroni = models.MenuItem(business_id=bar.id, name="Negroni", price=Decimal(35), stock=10)
    db.add_all([cut, dye, client, mojito, negroni])
    await db.flush()

    def appointment(service: models.Service, created: datetime, session_id: str | None) -> models.Appointment:
        start = datetime.combine(date(2030, 1, 20), time(10), UTC)
        return models.Appointment(
            business_id=salon.id, service_id=service.id, client_id=client.id, start_at=start,
            end_at=start + timedelta(minutes=30), source="voice" if session_id else "admin",
            session_id=session_id, created_at=created,
        )  # fmt: skip

    def order(lines: list[tuple[models.MenuItem, int]], created: datetime, session_id: str | None,
              status: str = "placed") -> models.Order:  # fmt: skip
        placed = models.Order(
            business_id=bar.id, session_id=session_id, status=status, total=Decimal(0), created_at=created
        )
        placed.lines = [
            models.OrderLine(menu_item_id=item.id, quantity=quantity, unit_price=item.price)
            for item, quantity in lines
        ]
        return placed

    db.add_all(
        [
            appointment(cut, at(7, 8, 2), "s3"),
            appointment(cut, at(7, 12), None),
            appointment(dye, at(8, 9), None),
            appointment(cut, at(5, 12), "s7"),  # before the window
            order([(mojito, 2), (negroni, 1)], at(7, 9, 20), "s4"),
            order([(mojito, 1)], at(8, 13), None),
            order([(negroni, 5)], at(8, 14), None, status="cancelled"),
        ]
    )
    await db.commit()


async def test_analytics_match_the_hand_computed_figures(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db:
        await load_fixture(db)
    since, until = window(
        since=date(2030, 1, 6), until=date(2030, 1, 8), days=None, tz=TZ, today=date(2030, 2, 1)
    )
    assert (since, until) == (utc(5, 22), utc(8, 22))
    async with sessions() as db:
        report = await analytics(db, since=since, until=until, tz=TZ)

    figures = report.sessions
    assert (figures.total, figures.ended) == (6, 5)
    assert figures.by_channel == {"web": 2, "phone": 3, "sdk": 1}
    assert figures.by_agent == {"bartender": 3, "salon": 3}
    assert figures.avg_duration_s == 150.0  # (120 + 60 + 300 + 180 + 90) / 5
    assert figures.avg_duration_s_by_channel == {"web": 90.0, "phone": 190.0}

    calls = report.calls
    assert (calls.total, calls.ended) == (4, 4)
    assert calls.avg_duration_s == 143.75  # (300 + 180 + 90 + 5) / 4
    assert calls.outcomes == {"booked": 1, "no_action": 1, "ordered": 1, "failed": 1}
    assert (calls.booked, calls.ordered) == (1, 2)  # CA2 ordered in its session
    assert (calls.appointment_conversion, calls.order_conversion) == (0.25, 0.5)

    assert [(d.day.isoformat(), d.sessions, d.calls) for d in report.per_day] == [
        ("2030-01-06", 1, 0),
        ("2030-01-07", 3, 2),
        ("2030-01-08", 2, 2),
    ]
    busy_hours = {h.hour: (h.sessions, h.calls) for h in report.per_hour if h.sessions or h.calls}
    assert busy_hours == {
        23: (1, 0),
        0: (1, 0),
        10: (1, 0),
        9: (1, 1),
        11: (1, 1),
        14: (1, 0),
        8: (0, 1),
        12: (0, 1),
    }
    assert len(report.per_hour) == 24

    assert [(r.name, r.count) for r in report.top_services] == [("Tuns", 2), ("Vopsit", 1)]
    assert [(r.name, r.count) for r in report.top_menu_items] == [("Mojito", 3), ("Negroni", 1)]

    tools = {t.name: t for t in report.tools}
    menu, book = tools["get_menu"], tools["book_appointment"]
    assert (menu.calls, menu.ok, menu.errors, menu.success_rate) == (3, 3, 0, 1.0)
    assert (menu.avg_ms, menu.p50_ms, menu.p95_ms, menu.max_ms) == (20.0, 20.0, 30.0, 30.0)
    assert (book.calls, book.ok, book.errors, book.success_rate) == (2, 1, 1, 0.5)
    assert (book.avg_ms, book.p50_ms, book.p95_ms, book.max_ms) == (200.0, 100.0, 300.0, 300.0)

    spent = report.usage
    assert (spent.responses, spent.input_tokens, spent.output_tokens) == (4, 1600, 950)
    assert spent.cost_usd == 0.41
    assert spent.per_session_tokens == 425.0  # 2550 tokens / 6 sessions
    assert spent.per_session_cost_usd == 0.068333
    assert [(s.session_id, s.input_tokens, s.output_tokens, s.cost_usd) for s in spent.top_sessions] == [
        ("s3", 1200, 600, 0.3),
        ("s5", 300, 300, 0.1),
        ("s1", 100, 50, 0.01),
    ]
    assert [
        (d.day.isoformat(), d.responses, d.input_tokens, d.output_tokens, d.cost_usd)
        for d in report.usage_per_day
    ] == [
        ("2030-01-06", 1, 100, 50, 0.01),
        ("2030-01-07", 2, 1200, 600, 0.3),
        ("2030-01-08", 1, 300, 300, 0.1),
    ]

    barge = report.barge_ins
    assert (barge.calls, barge.total, barge.per_call) == (3, 3, 1.0)
    assert barge.distribution == {0: 1, 1: 1, 2: 1}


async def test_an_empty_window_has_no_averages(sessions: async_sessionmaker[AsyncSession]) -> None:
    since, until = window(since=None, until=date(2030, 1, 1), days=7, tz=TZ, today=date(2030, 1, 1))
    async with sessions() as db:
        report = await analytics(db, since=since, until=until, tz=TZ)
    assert report.sessions.total == 0 and report.sessions.avg_duration_s is None
    assert report.calls.appointment_conversion is None and report.usage.per_session_cost_usd is None
    assert len(report.per_day) == 7 and report.per_day[0].day == date(2029, 12, 26)
