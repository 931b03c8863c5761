"""The demo businesses: the Blue Note bar (English) and the Bella hair salon (Romanian).

``voxgate demo-data`` loads them, and so does the first start on an empty embedded database, so
both agents have something to talk about out of the box. Loading is idempotent: a business is found
by its slug, its rows by their natural keys (menu item and service names, weekday and opening
time); what exists is left as it is, so prices or stock changed since are kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.models import Business, BusinessHours, BusinessKind, MenuItem, Service, Session

log = logging.getLogger("voxgate.demo")


@dataclass(frozen=True, slots=True)
class DemoItem:
    name: str
    category: str
    price: str
    alcoholic: bool
    stock: int


@dataclass(frozen=True, slots=True)
class DemoService:
    name: str
    category: str
    duration_min: int
    price: str


@dataclass(frozen=True, slots=True)
class DemoBusiness:
    slug: str
    kind: BusinessKind
    name: str
    phone_number: str
    language: str
    hours: tuple[tuple[int, time, time], ...]
    """(weekday, opens, closes); weekday 0 is Monday."""
    menu: tuple[DemoItem, ...] = ()
    services: tuple[DemoService, ...] = ()
    timezone: str = "Europe/Bucharest"


def _every(weekdays: range, opens: time, closes: time) -> tuple[tuple[int, time, time], ...]:
    return tuple((day, opens, closes) for day in weekdays)


BLUE_NOTE: Final = DemoBusiness(
    slug="blue-note",
    kind="bar",
    name="Blue Note",
    phone_number="+40213111222",
    language="en",
    hours=_every(range(7), time(16, 0), time(23, 30)),
    menu=(
        DemoItem("Mojito", "cocktail", "32.00", alcoholic=True, stock=40),
        DemoItem("Negroni", "cocktail", "36.00", alcoholic=True, stock=30),
        DemoItem("Aperol Spritz", "cocktail", "30.00", alcoholic=True, stock=30),
        DemoItem("Ursus Draught", "beer", "14.00", alcoholic=True, stock=100),
        DemoItem("Fetească Neagră", "wine", "22.00", alcoholic=True, stock=24),
        DemoItem("Lemonade", "soft drink", "15.00", alcoholic=False, stock=50),
        DemoItem("Virgin Mojito", "soft drink", "20.00", alcoholic=False, stock=30),
        DemoItem("Salted Almonds", "snack", "12.00", alcoholic=False, stock=0),
    ),
)

BELLA: Final = DemoBusiness(
    slug="bella",
    kind="salon",
    name="Salon Bella",
    phone_number="+40213123456",
    language="ro",
    # Monday to Friday 09:00-19:00, Saturday 10:00-16:00, closed on Sunday.
    hours=(*_every(range(5), time(9, 0), time(19, 0)), (5, time(10, 0), time(16, 0))),
    services=(
        # "Tuns" is the standard (women's) cut: what a caller means by "tuns" unless they say otherwise.
        DemoService("Tuns", "Păr", 45, "120.00"),
        DemoService("Tuns bărbați", "Păr", 30, "70.00"),
        DemoService("Vopsit", "Culoare", 120, "250.00"),
        DemoService("Coafat", "Păr", 45, "100.00"),
        DemoService("Manichiură", "Unghii", 60, "90.00"),
    ),
)

DEMO_BUSINESSES: Final = (BLUE_NOTE, BELLA)


@dataclass
class DemoReport:
    """What a load added; all zero when the demo data was already there."""

    businesses: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.businesses) or self.rows > 0


async def _business(db: AsyncSession, spec: DemoBusiness, report: DemoReport) -> Business:
    business = await db.scalar(select(Business).where(Business.slug == spec.slug))
    if business is not None:
        return business
    business = Business(
        slug=spec.slug,
        kind=spec.kind,
        name=spec.name,
        phone_number=spec.phone_number,
        language=spec.language,
        timezone=spec.timezone,
        voice_enabled=True,
        settings={"demo": True},
    )
    db.add(business)
    await db.flush()
    report.businesses.append(spec.slug)
    return business


async def _load_one(db: AsyncSession, spec: DemoBusiness, report: DemoReport) -> None:
    business = await _business(db, spec, report)
    hours = {
        (h.weekday, h.opens)
        for h in await db.scalars(select(BusinessHours).where(BusinessHours.business_id == business.id))
    }
    for weekday, opens, closes in spec.hours:
        if (weekday, opens) not in hours:
            db.add(BusinessHours(business_id=business.id, weekday=weekday, opens=opens, closes=closes))
            report.rows += 1
    items = set(await db.scalars(select(MenuItem.name).where(MenuItem.business_id == business.id)))
    for item in spec.menu:
        if item.name not in items:
            db.add(
                MenuItem(
                    business_id=business.id,
                    name=item.name,
                    category=item.category,
                    price=Decimal(item.price),
                    alcoholic=item.alcoholic,
                    stock=item.stock,
                    available=True,
                )
            )
            report.rows += 1
    services = set(await db.scalars(select(Service.name).where(Service.business_id == business.id)))
    for service in spec.services:
        if service.name not in services:
            db.add(
                Service(
                    business_id=business.id,
                    name=service.name,
                    category=service.category,
                    duration_min=service.duration_min,
                    price=Decimal(service.price),
                    active=True,
                )
            )
            report.rows += 1
    await db.flush()


async def load_demo(sessions: async_sessionmaker[AsyncSession]) -> DemoReport:
    """Add the demo bar and salon, and whatever of their rows is missing, in one transaction."""
    report = DemoReport()
    async with sessions() as db, db.begin():
        for spec in DEMO_BUSINESSES:
            await _load_one(db, spec, report)
    return report


async def is_empty(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """No business and no conversation yet: a database nobody has used (not one emptied on purpose)."""
    async with sessions() as db:
        for table in (Business, Session):
            if await db.scalar(select(func.count()).select_from(table)):
                return False
    return True
