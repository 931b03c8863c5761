"""The database schema: conversation records and business data, one declarative model per table.

Portable between SQLite and PostgreSQL: no native enums (string columns with named CHECK constraints),
``sqlalchemy.JSON`` for documents, timestamps always timezone-aware UTC (``UTCDateTime``), money as
``Numeric``. The Alembic migration in ``store/alembic/versions`` must stay in agreement with this module
(``tests/store/test_migrations.py`` compares them).

Two groups of tables:

- conversation records (``sessions`` and its children, ``calls``), written behind the hot path by
  ``voxgate.store.writer``. Each has a natural key (``event_blocks``: session + first seq, ``transcripts``:
  session + item, ...) so that replaying a batch after an outage is idempotent.
- business data (``businesses`` and the bar / salon tables), written in ordinary transactions by the
  tools and the admin API. They refer to a conversation by ``session_id`` *without* a foreign key: the
  session row is written behind and may not exist yet when a tool books or orders. Likewise sessions
  and calls name their ``business_id`` without a foreign key, so that no change to business data can
  make the writer refuse a conversation's records.

Double bookings are impossible by construction: an appointment occupies one ``appointment_slots`` row
per 15-minute block, unique per (business, resource, slot_start); see ``voxgate.store.booking``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Channel = Literal["web", "phone", "sdk"]
Direction = Literal["in", "out"]
"""``in``: client → upstream (client events); ``out``: upstream → client (server events)."""
Role = Literal["user", "assistant", "system"]
CallOutcome = Literal["booked", "ordered", "no_action", "failed"]
BusinessKind = Literal["bar", "salon"]
AppointmentStatus = Literal["booked", "cancelled"]
AppointmentSource = Literal["voice", "web", "admin"]
OrderStatus = Literal["placed", "served", "cancelled"]

DEFAULT_TIMEZONE: Final = "Europe/Bucharest"
DEFAULT_RESOURCE: Final = "main"

# Explicit constraint names: Alembic needs them to drop or alter constraints later (SQLite batch mode
# recreates tables and matches constraints by name), and they make IntegrityError messages readable.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, but INTEGER on SQLite: only "INTEGER PRIMARY KEY" is an auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

Money = Numeric(10, 2)
CostUSD = Numeric(12, 6)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and returns naive values, so values are
    converted to UTC before they are written and marked UTC when read. A naive datetime is refused:
    guessing its zone is how appointments move by two hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them naive, all in UTC, so ordering is correct.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


# ---------------------------------------------------------------------------------------------------
# Business data
# ---------------------------------------------------------------------------------------------------


class Business(Base):
    __tablename__ = "businesses"
    __table_args__ = (CheckConstraint("kind IN ('bar', 'salon')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[BusinessKind] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    # E.164; the ``To`` number of an incoming call selects the business.
    phone_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    voice_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BusinessHours(Base):
    """Opening hours per weekday (0 = Monday, as ``date.weekday()``); a closed day has no row.

    Several rows per weekday describe split shifts (e.g. a lunch break).
    """

    __tablename__ = "business_hours"
    __table_args__ = (
        UniqueConstraint("business_id", "weekday", "opens"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("business_id", "name"),
        CheckConstraint("duration_min > 0", name="duration_positive"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    duration_min: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("business_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))  # E.164, normalised with ``phonenumbers``
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index(None, "business_id", "start_at"),
        CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
        CheckConstraint("source IN ('voice', 'web', 'admin')", name="source"),
        CheckConstraint("start_at < end_at", name="start_before_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="RESTRICT"))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"), index=True)
    resource: Mapped[str] = mapped_column(String(32), default=DEFAULT_RESOURCE)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = mapped_column(String(16), default="booked")
    source: Mapped[AppointmentSource] = mapped_column(String(16))
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)  # no FK: written behind
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    slots: Mapped[list[AppointmentSlot]] = relationship(
        back_populates="appointment", cascade="all, delete-orphan", passive_deletes=True
    )


class AppointmentSlot(Base):
    """One 15-minute block an appointment occupies; the UNIQUE key makes overlaps impossible."""

    __tablename__ = "appointment_slots"
    __table_args__ = (UniqueConstraint("business_id", "resource", "slot_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(32), default=DEFAULT_RESOURCE)
    slot_start: Mapped[datetime]
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)

    appointment: Mapped[Appointment] = relationship(back_populates="slots")


class MenuItem(Base):
    __tablename__ = "menu_items"
    __table_args__ = (
        UniqueConstraint("business_id", "name"),
        # The database refuses to sell what is not there, even when two orders race.
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    price: Mapped[Decimal] = mapped_column(Money)
    alcoholic: Mapped[bool] = mapped_column(Boolean, default=False)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    available: Mapped[bool] = mapped_column(Boolean, default=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("status IN ('placed', 'served', 'cancelled')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)  # no FK: written behind
    status: Mapped[OrderStatus] = mapped_column(String(16), default="placed")
    total: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    menu_item_id: Mapped[int] = mapped_column(ForeignKey("menu_items.id", ondelete="RESTRICT"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="lines")


class IdCheck(Base):
    """The outcome of an ID check; never the birth date or the ID number itself."""

    __tablename__ = "id_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)  # no FK: written behind
    valid: Mapped[bool] = mapped_column(Boolean)
    adult: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------------------------------------------
# Conversation records (written behind by voxgate.store.writer)
# ---------------------------------------------------------------------------------------------------


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (CheckConstraint("channel IN ('web', 'phone', 'sdk')", name="channel"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[Channel] = mapped_column(String(8), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    # No FK: a record written behind must never be refused because of business data.
    business_id: Mapped[int | None] = mapped_column(Integer, index=True)
    client_id: Mapped[str | None] = mapped_column(String(128))
    caller: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(64))
    upstream_model: Mapped[str | None] = mapped_column(String(64))
    backend: Mapped[str | None] = mapped_column(String(16))
    # Summary counters, set when the session ends: the list view needs no aggregation.
    events_in: Mapped[int] = mapped_column(Integer, default=0)
    events_out: Mapped[int] = mapped_column(Integer, default=0)
    tool_call_count: Mapped[int] = mapped_column(Integer, default=0)
    barge_ins: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(CostUSD, default=Decimal(0))


class EventBlock(Base):
    """A session's relayed messages, a block of consecutive ``seq`` at a time (``voxgate.event_log``).

    ``events`` is a JSON array of ``{"seq", "direction", "type", "at", "payload"}`` in seq order; audio
    deltas keep their metadata and size only. One row per session and second instead of one per event:
    a row costs the writer far more than the few hundred bytes of JSON an event adds to it. The ``events``
    view (created by the migration) unpacks the blocks into one row per event for SQL.
    """

    __tablename__ = "event_blocks"
    __table_args__ = (
        UniqueConstraint("session_id", "first_seq"),
        CheckConstraint("first_seq <= last_seq", name="seq_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    """The time of the block's first event."""
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class Transcript(Base):
    """One conversation item's text; ``seq`` is its position in the conversation, not arrival order."""

    __tablename__ = "transcripts"
    __table_args__ = (
        UniqueConstraint("session_id", "item_id"),
        Index(None, "session_id", "seq"),
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="role"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    seq: Mapped[int] = mapped_column(Integer)
    # Set when the caller interrupted the assistant: ``text`` is then what was actually heard.
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    audio_end_ms: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime]


class ToolCall(Base):
    __tablename__ = "tool_calls"
    __table_args__ = (UniqueConstraint("session_id", "call_id"), Index(None, "name", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[Any] = mapped_column(JSON)  # the raw string when the model sent invalid JSON
    result: Mapped[Any] = mapped_column(JSON, nullable=True)  # NULL when the call failed
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Numeric(12, 3, asdecimal=False))
    at: Mapped[datetime]


class Usage(Base):
    """Token usage of one ``response.done``, with its cost estimate from the configured price table."""

    __tablename__ = "usage"
    __table_args__ = (UniqueConstraint("session_id", "response_id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    response_id: Mapped[str] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    input_text_tokens: Mapped[int] = mapped_column(Integer, default=0)
    input_audio_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_text_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_audio_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(CostUSD, default=Decimal(0))
    at: Mapped[datetime]


class Call(Base):
    """A phone call as Twilio reports it; exists before (and without) a session, hence no FK to it."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint("outcome IN ('booked', 'ordered', 'no_action', 'failed')", name="outcome"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # No FK: a record written behind must never be refused because of business data.
    business_id: Mapped[int | None] = mapped_column(Integer, index=True)
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(32))
    # [{"status": "ringing", "at": "2025-...Z", ...}, ...] in the order Twilio reported them.
    status_history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[CallOutcome | None] = mapped_column(String(16))


class Recording(Base):
    """An item's audio kept as a WAV file (``VOXGATE_RECORD_AUDIO``); the file lives outside the database."""

    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("session_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime]


metadata = Base.metadata
