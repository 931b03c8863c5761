"""Calling tools as the gateway does, and counting what a call left in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.models import (
    Appointment,
    AppointmentSlot,
    Business,
    Client,
    IdCheck,
    MenuItem,
    Order,
    OrderLine,
    Service,
)
from voxgate.tools.cnp import check_digit
from voxgate.tools.registry import ToolContext, ToolRegistry, ToolResult

NOW = datetime(2030, 3, 4, 7, 0, tzinfo=UTC)
"""Monday 4 March 2030, 09:00 in Bucharest (UTC+2): the salon has just opened."""
TOMORROW = date(2030, 3, 5)


def cnp(sex: str, born: date, county: str = "40", serial: str = "123") -> str:
    """A valid CNP for someone born on ``born`` (``sex``: 1/2 for the 1900s, 5/6 for the 2000s)."""
    first12 = f"{sex}{born:%y%m%d}{county}{serial}"
    return first12 + str(check_digit(first12))


ADULT_CNP = cnp("1", date(1990, 1, 1))
MINOR_CNP = cnp("6", date(2015, 6, 1))


@dataclass
class Caller:
    """One conversation's tool calls: the same session id and state across calls, like a session."""

    registry: ToolRegistry
    db: async_sessionmaker[AsyncSession]
    agent: str
    session_id: str = "vgs_test"
    business_id: int | None = None
    now: datetime = NOW
    state: dict[str, Any] = field(default_factory=dict)

    def context(self) -> ToolContext:
        language = "ro" if self.agent == "salon" else "en"
        return ToolContext(
            session_id=self.session_id,
            agent=self.agent,
            business_id=self.business_id,
            now=lambda: self.now,
            db=self.db,
            state=self.state,
            language=language,
        )

    async def __call__(
        self, name: str, arguments: str | dict[str, Any] | None = None, /, **kwargs: Any
    ) -> ToolResult:
        args: str | dict[str, Any] = arguments if arguments is not None else kwargs
        return await self.registry.call(name, args, self.context())

    def later(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


def ok(result: ToolResult) -> dict[str, Any]:
    assert result.ok, result.output
    return result.output


def refused(result: ToolResult, code: str) -> dict[str, Any]:
    assert not result.ok, result.output
    error: dict[str, Any] = result.output["error"]
    assert error["code"] == code, error
    return error


_TABLES = (Business, Client, Service, Appointment, AppointmentSlot, MenuItem, Order, OrderLine, IdCheck)


async def snapshot(db: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Row counts of the business tables and the stock of every item: equal before and after a no-op."""
    async with db() as session:
        counts: dict[str, Any] = {}
        for table in _TABLES:
            counts[table.__tablename__] = await session.scalar(select(func.count()).select_from(table))
        counts["stock"] = {
            name: stock for name, stock in await session.execute(select(MenuItem.name, MenuItem.stock))
        }
        return counts


async def business_id(db: async_sessionmaker[AsyncSession], slug: str) -> int:
    async with db() as session:
        found = await session.scalar(select(Business.id).where(Business.slug == slug))
        assert found is not None
        return found
