"""The bartender's tools: the menu, the age check and orders, on the database.

The age rule: an alcoholic item is refused until ``check_id`` found a valid ID of an adult in the
same session. The latest check decides (a guest whose ID shows 17 cannot ride on an earlier adult's
check). The check's outcome lives in the session's state and in ``id_checks``; the ID number and
the birth date it encodes are never stored nor returned.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from voxgate.store import bar
from voxgate.tools.cnp import ADULT_AGE, REASON_TEXT, check_cnp
from voxgate.tools.registry import ToolContext, ToolError, ToolRegistry
from voxgate.tools.ro_time import local_today
from voxgate.tools.storage import OUTCOME_STATE_KEY, business_of, transaction

ID_STATE_KEY: Final = "id_check"
"""``ctx.state[ID_STATE_KEY]``: ``{"valid": bool, "adult": bool}`` of the session's latest ID check."""

FILLERS: Final[dict[str, dict[str, str]]] = {
    "menu": {"en": "One moment, let me grab the menu.", "ro": "Un moment, mă uit în meniu."},
    "id": {"en": "One moment, checking your ID.", "ro": "Un moment, verific actul."},
    "order": {"en": "One moment, putting your order in.", "ro": "Un moment, trimit comanda."},
}

Category = Literal["cocktail", "beer", "wine", "soft drink", "snack"]
"""A closed list, so that the model cannot ask for "drinks" or "cocktails" and get an empty menu."""
IdNumber = Annotated[str, Field(min_length=1, max_length=40)]
ItemName = Annotated[str, Field(min_length=1, max_length=200)]
Quantity = Annotated[int, Field(ge=1, le=20)]


def _refused(exc: bar.BarError) -> ToolError:
    return ToolError(exc.message, exc.code, **({"options": list(exc.options)} if exc.options else {}))


def register(registry: ToolRegistry) -> None:
    @registry.tool(client_callable=True, filler=FILLERS["menu"])
    async def get_menu(ctx: ToolContext, category: Category | None = None) -> dict[str, Any]:
        """List the drinks and snacks on the menu with their prices in lei and whether they are available.

        Args:
            category: Only items of this category; omit for the whole menu.
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "bar")
            items = await bar.menu(db, business.id, category)
        return {
            "bar": business.name,
            "currency": "RON",
            "items": [
                {
                    "id": i.id,
                    "name": i.name,
                    "category": i.category,
                    "price": float(i.price),
                    "alcoholic": i.alcoholic,
                    "available": bar.can_serve(i),
                    "stock": i.stock,
                }
                for i in items
            ],
        }

    @registry.tool(filler=FILLERS["id"])
    async def check_id(ctx: ToolContext, id_number: IdNumber) -> dict[str, Any]:
        """Verify a guest's ID number (a Romanian CNP, 13 digits) before serving alcohol: says whether it
        is valid and whether the guest is of legal drinking age.

        Args:
            id_number: The number as the guest read it out; spaces and dashes are fine.
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "bar")
            result = check_cnp(id_number, local_today(ctx.now(), business.tz))
            await bar.record_id_check(
                db, ctx.session_id, valid=result.valid, adult=result.adult, at=ctx.now()
            )
        ctx.state[ID_STATE_KEY] = {"valid": result.valid, "adult": result.adult}
        out: dict[str, Any] = {
            "valid": result.valid,
            "adult": result.adult,
            "legal_drinking_age": ADULT_AGE,
            "may_serve_alcohol": result.valid and result.adult,
        }
        if result.reason is not None:
            out["reason"] = result.reason
            out["message"] = REASON_TEXT[result.reason] + " Ask the guest to read the number again."
        elif not result.adult:
            out["message"] = f"The ID is valid but the guest is under {ADULT_AGE}: no alcohol."
        else:
            out["message"] = "The ID is valid and the guest is of legal drinking age."
        return out

    @registry.tool(filler=FILLERS["order"])
    async def place_order(ctx: ToolContext, item: ItemName, quantity: Quantity = 1) -> dict[str, Any]:
        """Order an item from the menu for the guest; returns the order number and the total in lei.
        Alcoholic items need a successful check_id for an adult first.

        Args:
            item: The item's name as on the menu, e.g. "Mojito".
            quantity: How many, 1 to 20.
        """
        async with transaction(ctx) as db:
            business = await business_of(db, ctx, "bar")
            adult = await _adult(ctx, db)
            try:
                placed = await bar.place_order(
                    db,
                    business.id,
                    item_name=item,
                    quantity=quantity,
                    adult=adult,
                    session_id=ctx.session_id,
                    at=ctx.now(),
                )
            except bar.BarError as exc:
                raise _refused(exc) from None
        ctx.state[OUTCOME_STATE_KEY] = "ordered"
        return {
            "placed": True,
            "order_id": placed.order.id,
            "item": placed.item.name,
            "quantity": placed.quantity,
            "unit_price": float(placed.item.price),
            "total": float(placed.order.total),
            "currency": "RON",
        }


async def _adult(ctx: ToolContext, db: AsyncSession) -> bool | None:
    """Whether the session's latest valid ID check found an adult; ``None`` when no valid ID was checked.

    The session state is the quick answer; the ``id_checks`` rows back it when the state is gone
    (a tool context rebuilt without it).
    """
    state = ctx.state.get(ID_STATE_KEY)
    if isinstance(state, dict):
        valid, adult = bool(state.get("valid")), bool(state.get("adult"))
    else:
        latest = await bar.latest_id_check(db, ctx.session_id)
        if latest is None:
            return None
        valid, adult = latest.valid, latest.adult
    return adult if valid else None
