"""Business data for administrators: services, hours, menu, orders, availability and appointments.

Every route needs the admin key (``VOXGATE_ADMIN_KEY`` as a Bearer token; with none configured,
loopback clients only). ``?business=<slug>`` picks the business; without it the salon routes use
the first salon and the bar routes the first bar.

``POST /api/appointments`` books through the same rules as the voice agent (``store.salon``):
201 with the appointment, 409 when the time is taken (with the nearest free alternatives), 422 for
anything invalid (a past or closed time, an unknown service, a bad phone number, malformed JSON).
Refusals carry ``{"detail": {"code", "message", "alternatives"}}``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.business import BusinessInfo, find_business
from voxgate.routes import AdminAuth, GatewayDep
from voxgate.store import bar, salon
from voxgate.store.booking import cancel_appointment
from voxgate.store.models import Appointment, BusinessKind, Client, MenuItem, Order, OrderLine, Service
from voxgate.tools.ro_time import local_datetime

router = APIRouter(prefix="/api", tags=["business"], dependencies=[AdminAuth])

MAX_ID: Final = 2**31 - 1  # INTEGER columns: a larger id is invalid input, not a database error
WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

BusinessSlug = Annotated[
    str | None,
    Query(
        description="The business's slug (e.g. `bella`, `blue-note`); default: the first of the kind",
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
    ),
]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


# -- models --------------------------------------------------------------------------------------
class ServiceOut(BaseModel):
    id: int
    name: str
    category: str
    duration_min: int
    price: float
    active: bool


class HoursOut(BaseModel):
    weekday: int = Field(description="0 = Monday ... 6 = Sunday")
    day: str
    opens: str = Field(description="local wall-clock time, HH:MM")
    closes: str


class MenuItemOut(BaseModel):
    id: int
    name: str
    category: str
    price: float
    alcoholic: bool
    stock: int
    available: bool = Field(description="on offer and in stock")


class OrderLineOut(BaseModel):
    menu_item_id: int
    item: str
    quantity: int
    unit_price: float


class OrderOut(BaseModel):
    id: int
    session_id: str | None
    status: str
    total: float
    created_at: datetime
    lines: list[OrderLineOut]


class SlotOut(BaseModel):
    start: datetime = Field(description="ISO 8601 with the business's UTC offset")
    end: datetime


class AvailabilityOut(BaseModel):
    business: str
    service_id: int
    service: str
    duration_min: int
    date: date
    state: Literal["open", "closed", "full", "past"]
    slots: list[SlotOut]


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service_id": 1,
                    "start": "2030-03-05T10:00:00+02:00",
                    "client_name": "Ana Pop",
                    "client_phone": "0722 123 456",
                }
            ]
        },
    )

    service_id: RowId
    start: datetime = Field(description="ISO 8601; without an offset it is the business's local time")
    client_name: str = Field(min_length=1, max_length=salon.MAX_NAME)
    client_phone: str = Field(min_length=3, max_length=40, description="any usual form; stored as E.164")


class AppointmentOut(BaseModel):
    id: int
    business: str
    service_id: int
    service: str
    client_id: int
    client_name: str
    client_phone: str
    start: datetime
    end: datetime
    status: str
    source: str
    session_id: str | None
    created_at: datetime


class Problem(BaseModel):
    code: str
    message: str
    alternatives: list[datetime] = Field(default_factory=list, description="nearest free starts")


class ProblemResponse(BaseModel):
    detail: Problem


_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": ProblemResponse, "description": "no such business or appointment"},
    409: {"model": ProblemResponse, "description": "the time is already booked"},
}


# -- helpers -------------------------------------------------------------------------------------
def _problem(status: int, code: str, message: str, alternatives: tuple[datetime, ...] = ()) -> HTTPException:
    detail = Problem(code=code, message=message, alternatives=list(alternatives))
    return HTTPException(status_code=status, detail=detail.model_dump(mode="json"))


def _sessions(gateway: GatewayDep) -> async_sessionmaker[AsyncSession]:
    if gateway.db is None:
        raise HTTPException(status_code=503, detail="no database is configured")
    factory: async_sessionmaker[AsyncSession] = gateway.db
    return factory


async def _business(db: AsyncSession, slug: str | None, kind: BusinessKind) -> BusinessInfo:
    found = await find_business(db, slug=slug) if slug else await find_business(db, kind=kind)
    if found is None:
        what = f"no business {slug!r}" if slug else f"no {kind} is set up (see voxgate demo-data)"
        raise _problem(404, "unknown_business", what)
    return found


def _hhmm(value: time) -> str:
    return f"{value:%H:%M}"


def _appointment(
    row: Appointment, service: Service, client: Client, business: BusinessInfo
) -> AppointmentOut:
    return AppointmentOut(
        id=row.id,
        business=business.slug,
        service_id=service.id,
        service=service.name,
        client_id=client.id,
        client_name=client.name,
        client_phone=client.phone,
        start=row.start_at.astimezone(business.tz),
        end=row.end_at.astimezone(business.tz),
        status=row.status,
        source=row.source,
        session_id=row.session_id,
        created_at=row.created_at,
    )


# -- salon ---------------------------------------------------------------------------------------
@router.get("/services", responses=_REFUSALS)
async def list_services(gateway: GatewayDep, business: BusinessSlug = None) -> list[ServiceOut]:
    """The business's services, active or not (default: the first salon)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "salon")
        rows = await db.scalars(select(Service).where(Service.business_id == found.id).order_by(Service.id))
        return [
            ServiceOut(
                id=s.id,
                name=s.name,
                category=s.category,
                duration_min=s.duration_min,
                price=float(s.price),
                active=s.active,
            )
            for s in rows
        ]


@router.get("/hours", responses=_REFUSALS)
async def list_hours(gateway: GatewayDep, business: BusinessSlug = None) -> list[HoursOut]:
    """Opening hours per weekday; a weekday without rows is closed (default: the first salon)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "salon")
        rows = await salon.opening_hours(db, found.id)
        return [
            HoursOut(
                weekday=h.weekday, day=WEEKDAY_NAMES[h.weekday], opens=_hhmm(h.opens), closes=_hhmm(h.closes)
            )
            for h in rows
        ]


@router.get("/availability", responses={**_REFUSALS, 422: {"model": ProblemResponse}})
async def get_availability(
    gateway: GatewayDep,
    service_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    day: Annotated[date, Query(alias="date", description="the local day, YYYY-MM-DD")],
    business: BusinessSlug = None,
) -> AvailabilityOut:
    """Free start times for a service on a day, each with an ISO ``start`` (default: the first salon)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "salon")
        try:
            service = await salon.find_service(db, found.id, service_id=service_id)
        except salon.SalonError as exc:
            raise _problem(422, exc.code, exc.message) from None
        result = await salon.availability(db, found, service, day, None, gateway.wall_clock())
    length = timedelta(minutes=service.duration_min)
    return AvailabilityOut(
        business=found.slug,
        service_id=service.id,
        service=service.name,
        duration_min=service.duration_min,
        date=day,
        state=result.state,
        slots=[SlotOut(start=s, end=(s + length).astimezone(found.tz)) for s in result.free],
    )


@router.get("/appointments", responses=_REFUSALS)
async def list_appointments(
    gateway: GatewayDep,
    business: BusinessSlug = None,
    since: Annotated[date | None, Query(description="starting on or after this local day")] = None,
    until: Annotated[date | None, Query(description="starting on or before this local day")] = None,
    status: Literal["booked", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[AppointmentOut]:
    """Appointments by start time (default: the first salon)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "salon")
        query = (
            select(Appointment, Service, Client)
            .join(Service, Service.id == Appointment.service_id)
            .join(Client, Client.id == Appointment.client_id)
            .where(Appointment.business_id == found.id)
        )
        if since is not None:
            query = query.where(Appointment.start_at >= local_datetime(since, time(0), found.tz))
        if until is not None:
            end = local_datetime(until + timedelta(days=1), time(0), found.tz)
            query = query.where(Appointment.start_at < end)
        if status is not None:
            query = query.where(Appointment.status == status)
        rows = await db.execute(
            query.order_by(Appointment.start_at, Appointment.id).limit(limit).offset(offset)
        )
        return [_appointment(a, s, c, found) for a, s, c in rows]


@router.post(
    "/appointments",
    status_code=201,
    responses={
        **_REFUSALS,
        422: {"description": "invalid input: past or closed time, unknown service, bad phone"},
    },
)
async def create_appointment(
    gateway: GatewayDep, body: AppointmentCreate, business: BusinessSlug = None
) -> AppointmentOut:
    """Book an appointment (source ``admin``); the client is added when the phone number is new."""
    async with _sessions(gateway)() as db, db.begin():
        found = await _business(db, business, "salon")
        start = body.start
        if start.tzinfo is None or start.utcoffset() is None:
            start = local_datetime(start.date(), start.time(), found.tz)
        try:
            service = await salon.find_service(db, found.id, service_id=body.service_id)
            booked = await salon.book(
                db,
                found,
                service=service,
                start=start,
                client_name=body.client_name,
                client_phone_raw=body.client_phone,
                source="admin",
                now=gateway.wall_clock(),
            )
        except salon.SalonError as exc:
            status = 409 if exc.code == "taken" else 422
            alternatives = tuple(a.astimezone(found.tz) for a in exc.alternatives)
            raise _problem(status, exc.code, exc.message, alternatives) from None
        return _appointment(booked.appointment, booked.service, booked.client, found)


@router.delete("/appointments/{appointment_id}", responses=_REFUSALS)
async def delete_appointment(
    gateway: GatewayDep, appointment_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> AppointmentOut:
    """Cancel an appointment and free its time; the cancelled appointment is returned."""
    async with _sessions(gateway)() as db, db.begin():
        if not await cancel_appointment(db, appointment_id):
            raise _problem(404, "unknown_appointment", f"no booked appointment {appointment_id}")
        row = await db.execute(
            select(Appointment, Service, Client)
            .join(Service, Service.id == Appointment.service_id)
            .join(Client, Client.id == Appointment.client_id)
            .where(Appointment.id == appointment_id)
        )
        appointment, service, client = row.one()
        found = await find_business(db, business_id=appointment.business_id)
        assert found is not None  # the foreign key guarantees it
        return _appointment(appointment, service, client, found)


# -- bar -----------------------------------------------------------------------------------------
@router.get("/menu", responses=_REFUSALS)
async def list_menu(gateway: GatewayDep, business: BusinessSlug = None) -> list[MenuItemOut]:
    """The menu with prices, stock and availability (default: the first bar)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "bar")
        return [
            MenuItemOut(
                id=i.id,
                name=i.name,
                category=i.category,
                price=float(i.price),
                alcoholic=i.alcoholic,
                stock=i.stock,
                available=bar.can_serve(i),
            )
            for i in await bar.menu(db, found.id)
        ]


@router.get("/orders", responses=_REFUSALS)
async def list_orders(
    gateway: GatewayDep,
    business: BusinessSlug = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[OrderOut]:
    """Orders, newest first, with their lines (default: the first bar)."""
    async with _sessions(gateway)() as db:
        found = await _business(db, business, "bar")
        orders = list(
            await db.scalars(
                select(Order)
                .where(Order.business_id == found.id)
                .order_by(Order.created_at.desc(), Order.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        lines = await db.execute(
            select(OrderLine, MenuItem)
            .join(MenuItem, MenuItem.id == OrderLine.menu_item_id)
            .where(OrderLine.order_id.in_([o.id for o in orders]))
            .order_by(OrderLine.id)
        )
        by_order: dict[int, list[OrderLineOut]] = {}
        for line, item in lines:
            by_order.setdefault(line.order_id, []).append(
                OrderLineOut(
                    menu_item_id=item.id,
                    item=item.name,
                    quantity=line.quantity,
                    unit_price=float(line.unit_price),
                )
            )
        return [
            OrderOut(
                id=o.id,
                session_id=o.session_id,
                status=o.status,
                total=float(o.total),
                created_at=o.created_at,
                lines=by_order.get(o.id, []),
            )
            for o in orders
        ]
