"""What the business tools share: one transaction per call, and the business the session serves.

Every database tool does all its work inside :func:`transaction`: a refusal (``ToolError``), a failed
validation or a timeout (which cancels the tool) rolls everything back, so a call either completes
or changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from voxgate.business import BusinessInfo, find_business
from voxgate.store.models import BusinessKind
from voxgate.tools.registry import ToolContext, ToolError

OUTCOME_STATE_KEY: Final = "call_outcome"
"""Where a tool notes what a call achieved (``booked``, ``ordered``); the phone bridge records it."""


@asynccontextmanager
async def transaction(ctx: ToolContext) -> AsyncIterator[AsyncSession]:
    """An ORM session in a transaction: committed when the block ends, rolled back when it raises."""
    factory: async_sessionmaker[AsyncSession] | None = ctx.db
    if factory is None:
        raise ToolError("The business database is not available right now.", "no_database")
    async with factory() as db, db.begin():
        yield db


async def business_of(db: AsyncSession, ctx: ToolContext, kind: BusinessKind) -> BusinessInfo:
    """The session's business (``ctx.business_id``), else the first business of ``kind``."""
    if ctx.business_id is not None:
        business = await find_business(db, business_id=ctx.business_id)
        if business is None:
            raise ToolError("This conversation's business no longer exists.", "unknown_business")
        if business.kind != kind:
            raise ToolError(
                f"This conversation is for {business.name}, which is not a {kind}.",
                "wrong_business",
            )
        return business
    business = await find_business(db, kind=kind)
    if business is None:
        raise ToolError(f"No {kind} is set up in the database yet.", "no_business")
    return business
