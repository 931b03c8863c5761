"""The bartender's tools on a real database: the menu, the ID check and the age rule, stock, orders."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tools_testkit import ADULT_CNP, MINOR_CNP, Caller, business_id, cnp, ok, refused, snapshot

from voxgate.store.models import Business, IdCheck, MenuItem, Order, OrderLine
from voxgate.tools.bartender import ID_STATE_KEY
from voxgate.tools.registry import ToolRegistry
from voxgate.tools.storage import OUTCOME_STATE_KEY

DB = async_sessionmaker[AsyncSession]


@pytest.fixture
def bartender(registry: ToolRegistry, demo: DB) -> Caller:
    return Caller(registry, demo, "bartender")


async def test_menu_comes_from_the_database_with_prices_and_availability(bartender: Caller, demo: DB) -> None:
    menu = ok(await bartender("get_menu"))
    assert menu["bar"] == "Blue Note" and menu["currency"] == "RON"
    items = {i["name"]: i for i in menu["items"]}
    assert items["Mojito"] == {
        "id": items["Mojito"]["id"],
        "name": "Mojito",
        "category": "cocktail",
        "price": 32.0,
        "alcoholic": True,
        "available": True,
        "stock": 40,
    }
    assert items["Salted Almonds"]["available"] is False  # none left
    async with demo() as db, db.begin():
        await db.execute(update(MenuItem).where(MenuItem.name == "Negroni").values(available=False, price=40))
    again = {i["name"]: i for i in ok(await bartender("get_menu"))["items"]}
    assert again["Negroni"]["available"] is False and again["Negroni"]["price"] == 40.0
    beers = ok(await bartender("get_menu", category="beer"))["items"]
    assert [b["name"] for b in beers] == ["Ursus Draught"]
    refused(await bartender("get_menu", category="drinks"), "invalid_arguments")


async def test_get_menu_is_client_callable_and_the_others_are_not(bartender: Caller) -> None:
    registry = bartender.registry
    assert (await registry.call_from_client("get_menu", {}, bartender.context())).ok
    for name in ("check_id", "place_order"):
        result = await registry.call_from_client(name, {}, bartender.context())
        refused(result, "not_client_callable")


async def test_valid_adult_id_is_recorded_without_the_birth_date(bartender: Caller, demo: DB) -> None:
    result = ok(await bartender("check_id", id_number=ADULT_CNP))
    assert result["valid"] is True and result["adult"] is True and result["may_serve_alcohol"] is True
    assert set(result) == {"valid", "adult", "legal_drinking_age", "may_serve_alcohol", "message"}
    text = str(result)
    assert "1990" not in text and "90-01-01" not in text and ADULT_CNP not in text
    assert bartender.state[ID_STATE_KEY] == {"valid": True, "adult": True}
    async with demo() as db:
        checks = list(await db.scalars(select(IdCheck)))
    assert [(c.session_id, c.valid, c.adult) for c in checks] == [("vgs_test", True, True)]


async def test_id_numbers_with_spaces_are_read(bartender: Caller) -> None:
    spaced = " ".join([ADULT_CNP[:1], ADULT_CNP[1:7], ADULT_CNP[7:]])
    assert ok(await bartender("check_id", id_number=spaced))["valid"] is True


async def test_invalid_id_says_why(bartender: Caller, demo: DB) -> None:
    wrong_digit = ADULT_CNP[:-1] + str((int(ADULT_CNP[-1]) + 1) % 10)
    result = ok(await bartender("check_id", id_number=wrong_digit))
    assert result["valid"] is False and result["adult"] is False and result["may_serve_alcohol"] is False
    assert result["reason"] == "bad_check_digit" and "misheard" in result["message"]
    for bad, reason in (("12345", "wrong_length"), ("19001014012ab", "not_digits")):
        assert ok(await bartender("check_id", id_number=bad))["reason"] == reason
    async with demo() as db:
        assert [c.valid for c in await db.scalars(select(IdCheck))] == [False, False, False]


async def test_under_age_id_is_valid_but_not_adult(bartender: Caller) -> None:
    result = ok(await bartender("check_id", id_number=MINOR_CNP))
    assert result["valid"] is True and result["adult"] is False and result["may_serve_alcohol"] is False
    # The 18th birthday is the day it changes (NOW is 4 March 2030).
    assert ok(await bartender("check_id", id_number=cnp("5", date(2012, 3, 4))))["adult"] is True
    assert ok(await bartender("check_id", id_number=cnp("5", date(2012, 3, 5))))["adult"] is False


async def test_alcohol_is_refused_before_an_adult_id_check(bartender: Caller, demo: DB) -> None:
    before = await snapshot(demo)
    error = refused(await bartender("place_order", item="Mojito"), "id_check_required")
    assert "check_id" in error["message"]
    assert await snapshot(demo) == before

    ok(await bartender("check_id", id_number=MINOR_CNP))
    refused(await bartender("place_order", item="Mojito"), "under_age")
    ok(await bartender("check_id", id_number="1234"))  # an invalid number proves nothing
    refused(await bartender("place_order", item="Mojito"), "id_check_required")

    ok(await bartender("check_id", id_number=ADULT_CNP))
    order = ok(await bartender("place_order", item="mojito", quantity=2))
    assert order["item"] == "Mojito" and order["quantity"] == 2
    assert order["total"] == 64.0 and order["unit_price"] == 32.0 and order["currency"] == "RON"
    assert bartender.state[OUTCOME_STATE_KEY] == "ordered"

    # The latest check decides: a minor's ID after an adult's stops the alcohol again.
    ok(await bartender("check_id", id_number=MINOR_CNP))
    refused(await bartender("place_order", item="Negroni"), "under_age")


async def test_the_age_rule_is_per_session(registry: ToolRegistry, demo: DB) -> None:
    adult = Caller(registry, demo, "bartender", session_id="vgs_adult")
    other = Caller(registry, demo, "bartender", session_id="vgs_other")
    ok(await adult("check_id", id_number=ADULT_CNP))
    refused(await other("place_order", item="Negroni"), "id_check_required")
    # A context rebuilt without the state still finds the session's check in id_checks.
    fresh = Caller(registry, demo, "bartender", session_id="vgs_adult")
    ok(await fresh("place_order", item="Negroni"))


async def test_soft_drinks_need_no_id(bartender: Caller) -> None:
    assert ok(await bartender("place_order", item="Lemonade"))["total"] == 15.0


async def test_an_order_decrements_stock_and_is_stored_in_one_transaction(
    bartender: Caller, demo: DB
) -> None:
    ok(await bartender("check_id", id_number=ADULT_CNP))
    order = ok(await bartender("place_order", item="Aperol Spritz", quantity=3))
    bar_id = await business_id(demo, "blue-note")
    async with demo() as db:
        stored = await db.get(Order, order["order_id"])
        assert stored is not None and stored.total == Decimal("90.00") and stored.status == "placed"
        assert stored.session_id == "vgs_test" and stored.business_id == bar_id
        lines = list(await db.scalars(select(OrderLine).where(OrderLine.order_id == stored.id)))
        assert [(line.quantity, line.unit_price) for line in lines] == [(3, Decimal("30.00"))]
        spritz = await db.scalar(select(MenuItem).where(MenuItem.name == "Aperol Spritz"))
        assert spritz is not None and spritz.stock == 27


async def test_stock_limits_orders(bartender: Caller, demo: DB) -> None:
    ok(await bartender("check_id", id_number=ADULT_CNP))
    refused(await bartender("place_order", item="Salted Almonds"), "out_of_stock")
    async with demo() as db, db.begin():
        await db.execute(update(MenuItem).where(MenuItem.name == "Negroni").values(stock=2))
    before = await snapshot(demo)
    error = refused(await bartender("place_order", item="Negroni", quantity=3), "out_of_stock")
    assert "Only 2" in error["message"]
    assert await snapshot(demo) == before
    ok(await bartender("place_order", item="Negroni", quantity=2))
    refused(await bartender("place_order", item="Negroni"), "out_of_stock")


async def test_unknown_unavailable_and_ambiguous_items(bartender: Caller, demo: DB) -> None:
    before = await snapshot(demo)
    error = refused(await bartender("place_order", item="Pina Colada"), "unknown_item")
    assert "Mojito" in error["options"] and "Salted Almonds" not in error["options"]
    async with demo() as db, db.begin():
        await db.execute(update(MenuItem).where(MenuItem.name == "Lemonade").values(available=False))
    refused(await bartender("place_order", item="Lemonade"), "unavailable")
    # "mojito" is the Mojito, not the Virgin Mojito; "virgin" is the Virgin Mojito.
    assert ok(await bartender("place_order", item="virgin"))["item"] == "Virgin Mojito"
    async with demo() as db, db.begin():
        bar = await db.scalar(select(Business).where(Business.slug == "blue-note"))
        assert bar is not None
        db.add(MenuItem(business_id=bar.id, name="Virgin Colada", price=Decimal(21), stock=5))
    assert refused(await bartender("place_order", item="virgin"), "ambiguous_item")["options"] == [
        "Virgin Mojito",
        "Virgin Colada",
    ]
    after = await snapshot(demo)
    assert after["orders"] == before["orders"] + 1  # only the Virgin Mojito


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"item": "Mojito", "quantity": 0},
        {"item": "Mojito", "quantity": 21},
        {"item": "Mojito", "quantity": "lots"},
        {"item": ""},
        {"item": "Mojito", "table": 4},
        '{"item": "Mojito", ',
        "[1, 2]",
    ],
)
async def test_bad_arguments_from_the_model_change_nothing(
    bartender: Caller, demo: DB, arguments: str | dict[str, object]
) -> None:
    ok(await bartender("check_id", id_number=ADULT_CNP))
    before = await snapshot(demo)
    result = await bartender("place_order", arguments)
    assert not result.ok and result.error_code in ("invalid_arguments", "malformed_json")
    assert not (await bartender("check_id", {"id_number": ""})).ok
    assert not (await bartender("check_id", {"cnp": ADULT_CNP})).ok
    assert await snapshot(demo) == before


async def test_racing_orders_never_sell_more_than_the_stock(registry: ToolRegistry, demo: DB) -> None:
    async with demo() as db, db.begin():
        await db.execute(update(MenuItem).where(MenuItem.name == "Lemonade").values(stock=3))
    guests = [Caller(registry, demo, "bartender", session_id=f"vgs_{n}") for n in range(10)]
    results = await asyncio.gather(*(g("place_order", item="Lemonade") for g in guests))
    assert sum(r.ok for r in results) == 3
    assert {r.error_code for r in results if not r.ok} == {"out_of_stock"}
    after = await snapshot(demo)
    assert after["stock"]["Lemonade"] == 0 and after["orders"] == 3


async def test_tools_act_on_the_sessions_bar(registry: ToolRegistry, demo: DB) -> None:
    async with demo() as db, db.begin():
        other = Business(slug="jazz-cellar", kind="bar", name="Jazz Cellar")
        db.add(other)
        await db.flush()
        db.add(MenuItem(business_id=other.id, name="House Beer", price=Decimal(10), stock=9))
        other_id = other.id
    cellar = Caller(registry, demo, "bartender", business_id=other_id)
    menu = ok(await cellar("get_menu"))
    assert menu["bar"] == "Jazz Cellar" and [i["name"] for i in menu["items"]] == ["House Beer"]
    refused(await cellar("place_order", item="Mojito"), "unknown_item")
    salon = Caller(registry, demo, "bartender", business_id=await business_id(demo, "bella"))
    refused(await salon("get_menu"), "wrong_business")
    gone = Caller(registry, demo, "bartender", business_id=9999)
    refused(await gone("get_menu"), "unknown_business")


async def test_no_bar_and_no_database(registry: ToolRegistry, sessions: DB) -> None:
    refused(await Caller(registry, sessions, "bartender")("get_menu"), "no_business")
    no_db = Caller(registry, None, "bartender")  # type: ignore[arg-type]
    refused(await no_db("get_menu"), "no_database")


def test_slow_bar_tools_have_fillers_in_both_languages(registry: ToolRegistry) -> None:
    for name in ("get_menu", "check_id", "place_order"):
        english, romanian = registry.filler(name, "en"), registry.filler(name, "ro")
        assert english is not None and romanian is not None and english.text != romanian.text
