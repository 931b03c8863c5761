"""Which business a session serves: several bars and salons can share one database.

A client door names one with ``?business=<slug>``; a phone call is matched by the number it dialled
(the ``To`` of the call); with neither, the first business of the kind the agent serves. The answer
is a plain frozen record, so that callers never hold an ORM object outside its session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.store.models import Business, BusinessKind
from voxgate.tools.phones import try_normalize_phone
from voxgate.tools.ro_time import BUCHAREST

AGENT_FOR_KIND: Final[dict[BusinessKind, str]] = {"bar": "bartender", "salon": "salon"}
"""The agent profile that serves each kind of business."""
_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

KIND_FOR_AGENT: Final[dict[str, BusinessKind]] = {agent: kind for kind, agent in AGENT_FOR_KIND.items()}


@dataclass(frozen=True, slots=True)
class BusinessInfo:
    id: int
    slug: str
    kind: BusinessKind
    name: str
    language: str
    timezone: str
    phone_number: str | None
    voice_enabled: bool

    @property
    def agent(self) -> str:
        return AGENT_FOR_KIND[self.kind]

    @property
    def tz(self) -> ZoneInfo:
        """The business's zone; a zone name the system does not know falls back to Bucharest's."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return BUCHAREST

    @classmethod
    def of(cls, row: Business) -> BusinessInfo:
        return cls(
            id=row.id,
            slug=row.slug,
            kind=row.kind,
            name=row.name,
            language=row.language,
            timezone=row.timezone,
            phone_number=row.phone_number,
            voice_enabled=row.voice_enabled,
        )


async def find_business(
    db: AsyncSession,
    *,
    business_id: int | None = None,
    slug: str | None = None,
    phone: str | None = None,
    kind: BusinessKind | None = None,
) -> BusinessInfo | None:
    """The business matching every criterion given; with none but ``kind``, the first of that kind.

    Inside an open ORM session (tools and routes already have one).
    """
    query = select(Business)
    if business_id is not None:
        query = query.where(Business.id == business_id)
    if slug is not None:
        wanted = slug.strip().lower()
        if not _SLUG.fullmatch(wanted):
            return None  # not a slug at all: no query (PostgreSQL refuses some bytes outright)
        query = query.where(Business.slug == wanted)
    if phone is not None:
        e164 = try_normalize_phone(phone)
        if e164 is None:
            return None
        query = query.where(Business.phone_number == e164)
    if kind is not None:
        query = query.where(Business.kind == kind)
    row = await db.scalar(query.order_by(Business.id).limit(1))
    return BusinessInfo.of(row) if row is not None else None


async def resolve_business(
    db: async_sessionmaker[AsyncSession] | None,
    slug: str | None = None,
    phone: str | None = None,
    kind: BusinessKind | None = None,
) -> BusinessInfo | None:
    """The business a session serves, or ``None`` when none matches (or there is no database).

    ``slug`` (``?business=``) or ``phone`` (the number a caller dialled) pick one; ``kind`` narrows
    the choice, and alone means the first business of that kind.
    """
    if db is None:
        return None
    async with db() as session:
        return await find_business(session, slug=slug, phone=phone, kind=kind)
