"""The bartender's tools.

``get_menu`` reads the bar's menu. Until the bar's tables exist (issue 3) the menu is the demo bar's,
kept here as data; the tool's contract (items with name, category, price, availability) stays.
"""

from __future__ import annotations

from typing import Any, Literal

from voxgate.tools.registry import ToolContext, ToolRegistry

Category = Literal["cocktail", "beer", "wine", "soft drink", "snack"]

DEMO_MENU: tuple[dict[str, Any], ...] = (
    {"name": "Mojito", "category": "cocktail", "price": 32.0, "alcoholic": True, "available": True},
    {"name": "Negroni", "category": "cocktail", "price": 36.0, "alcoholic": True, "available": True},
    {"name": "Aperol Spritz", "category": "cocktail", "price": 30.0, "alcoholic": True, "available": True},
    {"name": "Ursus Draught", "category": "beer", "price": 14.0, "alcoholic": True, "available": True},
    {"name": "Feteasca Neagra", "category": "wine", "price": 22.0, "alcoholic": True, "available": True},
    {"name": "Lemonade", "category": "soft drink", "price": 15.0, "alcoholic": False, "available": True},
    {"name": "Virgin Mojito", "category": "soft drink", "price": 20.0, "alcoholic": False, "available": True},
    {"name": "Salted Almonds", "category": "snack", "price": 12.0, "alcoholic": False, "available": False},
)


def register(registry: ToolRegistry) -> None:
    @registry.tool(client_callable=True, filler={})
    async def get_menu(ctx: ToolContext, category: Category | None = None) -> dict[str, Any]:
        """List the drinks and snacks on the menu with their prices in lei and whether they are available.

        Args:
            category: Only items of this category; omit for the whole menu.
        """
        items = [dict(item) for item in DEMO_MENU if category is None or item["category"] == category]
        return {"currency": "RON", "items": items}
