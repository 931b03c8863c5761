"""The bar's menu, stock and orders on the database.

An order is one transaction: the item is found, the age rule applied, the stock decremented only
where enough is left (``UPDATE ... WHERE stock >= quantity``, backed by the ``stock >= 0`` CHECK),
and the order with its line inserted. Two guests racing for the last glass cannot both get it.
Nothing here commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store.models import IdCheck, MenuItem, Order, OrderLine
from voxgate.tools.names import match_names

BarErrorCode = Literal[
    "unknown_item", "ambiguous_item", "unavailable", "out_of_stock", "id_check_required", "under_age"
]


class BarError(Exception):
    """An order the bar refuses; ``message`` is fit for a model."""

    def __init__(self, code: BarErrorCode, message: str, *, options: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.code: BarErrorCode = code
        self.message = message
        self.options = tuple(options)


async def menu(db: AsyncSession, business_id: int, category: str | None = None) -> list[MenuItem]:
    items = list(
        await db.scalars(select(MenuItem).where(MenuItem.business_id == business_id).order_by(MenuItem.id))
    )
    if category:
        wanted = category.strip().casefold()
        items = [i for i in items if i.category.casefold() == wanted]
    return items


def can_serve(item: MenuItem) -> bool:
    return item.available and item.stock > 0


async def find_item(db: AsyncSession, business_id: int, name: str) -> MenuItem:
    items = await menu(db, business_id)
    found = match_names(name, items, lambda i: i.name)
    if len(found) == 1:
        return found[0]
    if not found:
        names = [i.name for i in items if can_serve(i)]
        raise BarError(
            "unknown_item",
            f"There is no {name!r} on the menu. Available: {', '.join(names)}.",
            options=names,
        )
    names = [i.name for i in found]
    raise BarError(
        "ambiguous_item",
        f"Several items match {name!r}: {', '.join(names)}. Ask the guest which one.",
        options=names,
    )


async def latest_id_check(db: AsyncSession, session_id: str) -> IdCheck | None:
    return await db.scalar(
        select(IdCheck).where(IdCheck.session_id == session_id).order_by(IdCheck.id.desc()).limit(1)
    )


async def record_id_check(
    db: AsyncSession, session_id: str, *, valid: bool, adult: bool, at: datetime
) -> None:
    db.add(IdCheck(session_id=session_id, valid=valid, adult=adult, at=at))
    await db.flush()


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    item: MenuItem
    quantity: int
    stock_left: int


async def place_order(
    db: AsyncSession,
    business_id: int,
    *,
    item_name: str,
    quantity: int,
    adult: bool | None,
    session_id: str | None,
    at: datetime,
) -> Placed:
    """Order ``quantity`` of an item. ``adult``: the session's latest ID check (``None``: none yet)."""
    item = await find_item(db, business_id, item_name)
    if not item.available:
        raise BarError("unavailable", f"{item.name} is not available today.")
    if item.alcoholic and adult is not True:
        if adult is False:
            raise BarError(
                "under_age", f"{item.name} contains alcohol and the ID checked says the guest is under 18."
            )
        raise BarError(
            "id_check_required",
            f"{item.name} contains alcohol: ask for the guest's ID number and verify it with check_id first.",
        )
    left = await db.scalar(
        update(MenuItem)
        .where(MenuItem.id == item.id, MenuItem.stock >= quantity)
        .values(stock=MenuItem.stock - quantity)
        .returning(MenuItem.stock),
        execution_options={"synchronize_session": False},
    )
    if left is None:
        await db.refresh(item, ["stock"])
        raise BarError(
            "out_of_stock",
            f"Only {item.stock} {item.name} left." if item.stock else f"{item.name} is sold out.",
        )
    unit = Decimal(item.price)
    order = Order(
        business_id=business_id,
        session_id=session_id,
        status="placed",
        total=unit * quantity,
        created_at=at,
        lines=[OrderLine(menu_item_id=item.id, quantity=quantity, unit_price=unit)],
    )
    db.add(order)
    await db.flush()
    return Placed(order, item, quantity, left)
