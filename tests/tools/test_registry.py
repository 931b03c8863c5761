"""The tool registry, exercised with real example tools run by the real registry (no mocks)."""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal, cast

import orjson
import pytest
from pydantic import BaseModel, Field

from voxgate.tools.docstrings import parse_docstring
from voxgate.tools.registry import (
    Filler,
    ToolContext,
    ToolDefinitionError,
    ToolError,
    ToolRegistry,
    ToolResult,
)
from voxgate.tools.schema import flatten

NOW = datetime(2025, 6, 3, 18, 30, tzinfo=UTC)

# What the example tools "write": a validation failure must leave it untouched.
ORDERS: list[dict[str, Any]] = []
NEVER = asyncio.Event()  # set by nobody: the slow tool waits on it until the registry gives up


class Seating(enum.Enum):
    """Where the party sits."""

    BAR = "bar"
    TABLE = "table"


class Guest(BaseModel):
    """Who the booking is for."""

    name: str
    phone: str | None = None


class Receipt(BaseModel):
    order_id: int
    total: float
    ready_at: time


registry = ToolRegistry(default_timeout=5.0)


@registry.tool(
    timeout=5, filler={"en": "One moment, let me check.", "ro": "Un moment, verific."}, filler_after_s=0.5
)
async def get_menu(
    ctx: ToolContext, category: Literal["cocktails", "beer", "wine", "soft"] | None = None
) -> dict[str, Any]:
    """List the drinks on the menu, with prices and availability.

    Internal note: the model never sees this paragraph.

    Args:
        category: Only this part of the menu; all of it when omitted.
    """
    items: list[dict[str, Any]] = [
        {"name": "Negroni", "category": "cocktails", "price": 32.0},
        {"name": "Ursus", "category": "beer"},
    ]
    return {"items": [i for i in items if category is None or i["category"] == category]}


@registry.tool(filler={})
async def place_order(
    ctx: ToolContext,
    item: Annotated[str, Field(min_length=1, description="The menu item, exactly as listed.")],
    quantity: Annotated[int, Field(gt=0, le=10)] = 1,
    pickup: time | None = None,
) -> Receipt:
    """Order drinks.

    Args:
        quantity: How many, 1 to 10.
        pickup: When the guest collects the order (local time).
    """
    if item == "Absinthe":
        raise ToolError("Absinthe is out of stock.", code="out_of_stock")
    ORDERS.append({"item": item, "quantity": quantity, "session": ctx.session_id})
    return Receipt(order_id=len(ORDERS), total=quantity * 10.0, ready_at=pickup or time(19, 0))


@registry.tool()
async def reserve(
    ctx: ToolContext,
    day: date,
    at: time,
    party: Annotated[int, Field(ge=1, le=12, description="How many people.")],
    guest: Guest,
    seating: Seating = Seating.TABLE,
) -> dict[str, Any]:
    """Reserve a table.

    Args:
        day: The day of the visit.
        at: Arrival time, local.
        guest: Contact details.
        seating: Bar or table.
    """
    # The tool receives typed values, not the JSON strings the model sent.
    assert isinstance(day, date) and isinstance(at, time) and isinstance(guest, Guest)
    assert isinstance(seating, Seating)
    return {"day": day, "at": at, "guest": guest.name, "seating": seating, "by": ctx.agent}


@registry.tool(timeout=0.05)
async def slow_lookup(ctx: ToolContext) -> dict[str, Any]:
    """Wait for a reply that never comes."""
    await NEVER.wait()
    return {"never": True}


@registry.tool()
async def broken(ctx: ToolContext) -> dict[str, Any]:
    """Fail with an internal error."""
    raise RuntimeError("connection to postgres://admin:hunter2@db failed")


@registry.tool()
async def own_timeout(ctx: ToolContext) -> dict[str, Any]:
    """Fail because some I/O of its own timed out (not the registry's deadline)."""
    raise TimeoutError("socket read timed out")


@registry.tool(client_callable=True)
async def remember(ctx: ToolContext, key: str, value: str) -> list[str]:
    """Store a value in the session's scratch space.

    Args:
        key: Name of the value.
        value: The value.
    """
    ctx.state[key] = value
    return sorted(ctx.state)


def make_ctx(**overrides: Any) -> ToolContext:
    values: dict[str, Any] = {"session_id": "sess_1", "agent": "bartender", "now": lambda: NOW}
    values.update(overrides)
    return ToolContext(**values)


@pytest.fixture(autouse=True)
def clean_orders() -> Iterator[None]:
    ORDERS.clear()
    yield
    ORDERS.clear()


def error_of(result: ToolResult) -> dict[str, Any]:
    assert not result.ok
    error: dict[str, Any] = result.output["error"]
    return error


# -- schemas ------------------------------------------------------------------------------------------
def test_schema_snapshot_get_menu() -> None:
    assert registry.schemas(["get_menu"]) == [
        {
            "type": "function",
            "name": "get_menu",
            "description": "List the drinks on the menu, with prices and availability.",
            "parameters": {
                "additionalProperties": False,
                "properties": {
                    "category": {
                        "anyOf": [
                            {"enum": ["cocktails", "beer", "wine", "soft"], "type": "string"},
                            {"type": "null"},
                        ],
                        "default": None,
                        "description": "Only this part of the menu; all of it when omitted.",
                    }
                },
                "type": "object",
            },
        }
    ]


def test_schema_snapshot_nested_model_enum_dates_inlined() -> None:
    (schema,) = registry.schemas(["reserve"])
    assert schema == {
        "type": "function",
        "name": "reserve",
        "description": "Reserve a table.",
        "parameters": {
            "additionalProperties": False,
            "properties": {
                "day": {"description": "The day of the visit.", "format": "date", "type": "string"},
                "at": {"description": "Arrival time, local.", "format": "time", "type": "string"},
                "party": {"description": "How many people.", "maximum": 12, "minimum": 1, "type": "integer"},
                "guest": {
                    "description": "Contact details.",
                    "properties": {
                        "name": {"type": "string"},
                        "phone": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                    },
                    "required": ["name"],
                    "type": "object",
                },
                "seating": {
                    "description": "Bar or table.",
                    "enum": ["bar", "table"],
                    "type": "string",
                    "default": "table",
                },
            },
            "required": ["day", "at", "party", "guest"],
            "type": "object",
        },
    }
    assert "$defs" not in orjson.dumps(schema).decode()
    assert "$ref" not in orjson.dumps(schema).decode()


def test_annotated_description_wins_and_docstring_fills_the_rest() -> None:
    (schema,) = registry.schemas(["place_order"])
    props = schema["parameters"]["properties"]
    assert props["item"]["description"] == "The menu item, exactly as listed."
    assert props["quantity"] == {
        "default": 1,
        "description": "How many, 1 to 10.",
        "exclusiveMinimum": 0,
        "maximum": 10,
        "type": "integer",
    }
    assert schema["parameters"]["required"] == ["item"]
    assert "ctx" not in props


def test_tool_without_parameters_has_an_empty_object_schema() -> None:
    (schema,) = registry.schemas(["slow_lookup"])
    assert schema["parameters"] == {"additionalProperties": False, "properties": {}, "type": "object"}


def test_schemas_keep_the_order_asked_and_skip_unknown_names() -> None:
    names = [s["name"] for s in registry.schemas(["reserve", "nope", "get_menu"])]
    assert names == ["reserve", "get_menu"]
    assert [s["name"] for s in registry.schemas()] == registry.names()
    assert "get_menu" in registry and "nope" not in registry
    assert len(registry) == len(registry.names())


def test_each_session_gets_its_own_copy_of_the_definitions() -> None:
    first = registry.schemas(["get_menu"])
    assert first == [registry.get("get_menu").schema()]  # type: ignore[union-attr]
    first[0]["description"] = "changed by one session"
    first[0]["parameters"]["properties"]["x"] = {"type": "string"}
    (again,) = registry.schemas(["get_menu"])
    assert again["description"] != "changed by one session"
    assert "x" not in again["parameters"]["properties"]


class Node(BaseModel):
    label: str
    children: list[Node] = []


def test_recursive_models_keep_their_defs() -> None:
    schema = flatten(Node.model_json_schema())
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert set(schema["$defs"]) == {"Node"}
    assert "title" not in schema["$defs"]["Node"]


def test_a_property_named_title_survives_title_stripping() -> None:
    class Book(BaseModel):
        title: str

    assert flatten(Book.model_json_schema())["properties"] == {"title": {"type": "string"}}


# -- calls that succeed -------------------------------------------------------------------------------
async def test_call_runs_the_tool_with_typed_arguments_and_the_context() -> None:
    result = await registry.call(
        "reserve",
        '{"day": "2025-06-05", "at": "19:30", "party": 4, "guest": {"name": "Ana"}}',
        make_ctx(),
    )
    assert result.ok
    assert result.output == {
        "day": "2025-06-05",
        "at": "19:30:00",
        "guest": "Ana",
        "seating": "table",
        "by": "bartender",
    }
    assert result.arguments == {"day": "2025-06-05", "at": "19:30", "party": 4, "guest": {"name": "Ana"}}
    assert result.name == "reserve" and result.session_id == "sess_1" and result.started_at == NOW
    assert result.duration_ms >= 0


async def test_model_outputs_and_non_dict_outputs_become_json_objects() -> None:
    ordered = await registry.call("place_order", '{"item": "Negroni", "quantity": 2}', make_ctx())
    assert ordered.output == {"order_id": 1, "total": 20.0, "ready_at": "19:00:00"}
    listed = await registry.call("remember", {"key": "k", "value": "v"}, make_ctx())
    assert listed.output == {"result": ["k"]}
    assert orjson.loads(listed.output_json()) == {"result": ["k"]}


@pytest.mark.parametrize("empty", ["", "  ", "{}"])
async def test_empty_arguments_mean_no_arguments(empty: str) -> None:
    result = await registry.call("get_menu", empty, make_ctx())
    assert result.ok and len(result.output["items"]) == 2


async def test_state_is_shared_through_the_context() -> None:
    state: dict[str, Any] = {"id_checked": True}
    result = await registry.call("remember", '{"key": "name", "value": "Ana"}', make_ctx(state=state))
    assert result.output == {"result": ["id_checked", "name"]}
    assert state["name"] == "Ana"


async def test_record_has_everything_to_persist_a_call() -> None:
    result = await registry.call("get_menu", '{"category": "beer"}', make_ctx())
    assert result.record() == {
        "session_id": "sess_1",
        "name": "get_menu",
        "arguments": {"category": "beer"},
        "output": {"items": [{"name": "Ursus", "category": "beer"}]},
        "ok": True,
        "error_code": None,
        "duration_ms": result.duration_ms,
        "started_at": NOW,
    }


# -- calls that fail ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "fields"),
    [
        ('{"quantity": 2}', ["item"]),
        ('{"item": "Negroni", "quantity": 0}', ["quantity"]),
        ('{"item": "Negroni", "quantity": "lots"}', ["quantity"]),
        ('{"item": "", "quantity": 11}', ["item", "quantity"]),
        ('{"item": "Negroni", "pickup": "after work"}', ["pickup"]),
        ('{"item": "Negroni", "discount": 50}', ["discount"]),
    ],
)
async def test_invalid_arguments_list_the_fields_and_write_nothing(arguments: str, fields: list[str]) -> None:
    result = await registry.call("place_order", arguments, make_ctx())
    error = error_of(result)
    assert error["code"] == "invalid_arguments"
    assert [f["field"] for f in error["fields"]] == fields
    assert all(name in error["message"] for name in fields)
    assert ORDERS == []
    assert result.arguments == orjson.loads(arguments)
    assert result.error_code == "invalid_arguments"


async def test_nested_field_errors_name_the_path() -> None:
    result = await registry.call(
        "reserve", '{"day": "2025-02-30", "at": "19:00", "party": 2, "guest": {}}', make_ctx()
    )
    assert [f["field"] for f in error_of(result)["fields"]] == ["day", "guest.name"]


@pytest.mark.parametrize("raw", ['{"item": "Negroni"', "item=Negroni", "{'item': 'Negroni'}"])
async def test_malformed_json_is_a_structured_error(raw: str) -> None:
    result = await registry.call("place_order", raw, make_ctx())
    assert error_of(result)["code"] == "malformed_json"
    assert result.arguments == raw
    assert ORDERS == []


@pytest.mark.parametrize("raw", ["[1, 2]", '"Negroni"', "42", "null"])
async def test_json_that_is_not_an_object_is_rejected(raw: str) -> None:
    result = await registry.call("place_order", raw, make_ctx())
    assert error_of(result)["code"] == "invalid_arguments"
    assert ORDERS == []


async def test_unknown_tool() -> None:
    result = await registry.call("drop_tables", "{}", make_ctx())
    error = error_of(result)
    assert error["code"] == "unknown_tool"
    assert "get_menu" in error["available"]
    assert result.name == "drop_tables" and result.arguments == "{}"


async def test_a_tool_not_offered_to_the_agent_is_unknown_to_it() -> None:
    result = await registry.call("place_order", '{"item": "Negroni"}', make_ctx(), allowed={"get_menu"})
    error = error_of(result)
    assert error["code"] == "unknown_tool" and error["available"] == ["get_menu"]
    assert ORDERS == []


async def test_tool_error_reaches_the_model_with_its_code_and_message() -> None:
    result = await registry.call("place_order", '{"item": "Absinthe"}', make_ctx())
    assert result.output == {"error": {"code": "out_of_stock", "message": "Absinthe is out of stock."}}
    assert ORDERS == []


async def test_timeout_is_a_structured_error() -> None:
    result = await registry.call("slow_lookup", "{}", make_ctx())
    assert error_of(result)["code"] == "timeout"
    assert "0.05 seconds" in error_of(result)["message"]


async def test_unexpected_exception_is_logged_once_and_not_leaked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="voxgate.tools"):
        result = await registry.call("broken", "{}", make_ctx())
    error = error_of(result)
    assert error["code"] == "internal_error"
    assert "hunter2" not in result.output_json() and "postgres" not in result.output_json()
    records = [r for r in caplog.records if r.name == "voxgate.tools"]
    assert len(records) == 1
    assert records[0].exc_info is not None and "hunter2" in str(records[0].exc_info[1])


async def test_a_tools_own_timeout_error_is_an_internal_error_not_our_deadline() -> None:
    result = await registry.call("own_timeout", "{}", make_ctx())
    assert error_of(result)["code"] == "internal_error"


async def test_a_tool_returning_an_error_shaped_dict_is_still_ok() -> None:
    local = ToolRegistry()

    @local.tool()
    async def echo(ctx: ToolContext) -> dict[str, Any]:
        """Return a payload that happens to contain an "error" key."""
        return {"error": {"code": "x", "message": "domain data, not a failure"}}

    assert (await local.call("echo", "{}", make_ctx())).ok


# -- client-callable policy ---------------------------------------------------------------------------
async def test_only_client_callable_tools_run_from_clients() -> None:
    refused = await registry.call_from_client("place_order", '{"item": "Negroni"}', make_ctx())
    assert error_of(refused)["code"] == "not_client_callable"
    assert ORDERS == []

    allowed = await registry.call_from_client("remember", '{"key": "a", "value": "b"}', make_ctx())
    assert allowed.ok and allowed.output == {"result": ["a"]}

    unknown = await registry.call_from_client("nope", {}, make_ctx())
    assert error_of(unknown)["code"] == "unknown_tool"


async def test_client_calls_are_validated_like_model_calls() -> None:
    result = await registry.call_from_client("remember", {"key": "a"}, make_ctx())
    assert error_of(result)["code"] == "invalid_arguments"


# -- fillers ------------------------------------------------------------------------------------------
def test_filler_per_language_with_english_fallback() -> None:
    assert registry.filler("get_menu", "ro") == Filler("Un moment, verific.", 0.5)
    assert registry.filler("get_menu", "en-GB") == Filler("One moment, let me check.", 0.5)
    assert registry.filler("get_menu", "de") == Filler("One moment, let me check.", 0.5)
    text, after_s = registry.filler("reserve", "ro") or ("", 0.0)
    assert (text, after_s) == ("Un moment, vă rog.", 1.5)  # the registry's default
    assert registry.filler("place_order", "en") is None  # filler={}: never
    assert registry.filler("nope", "en") is None


# -- registration -------------------------------------------------------------------------------------
def test_registration_rejects_what_cannot_be_described() -> None:
    local = ToolRegistry()

    def sync_tool(ctx: ToolContext) -> dict[str, Any]:
        """Not async."""
        return {}

    async def undocumented(ctx: ToolContext) -> dict[str, Any]:
        return {}

    async def untyped(ctx: ToolContext, x) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Missing a hint."""
        return {}

    async def varargs(ctx: ToolContext, *names: str) -> dict[str, Any]:
        """Variadic."""
        return {}

    async def typo(ctx: ToolContext, name: str) -> dict[str, Any]:
        """Documented wrongly.

        Args:
            nmae: The name.
        """
        return {}

    async def no_ctx() -> dict[str, Any]:
        """No context parameter."""
        return {}

    for func in (sync_tool, undocumented, untyped, varargs, typo, no_ctx):
        with pytest.raises(ToolDefinitionError):
            local.register(cast(Any, func))
    assert len(local) == 0

    async def fine(ctx: ToolContext) -> dict[str, Any]:
        """Fine."""
        return {}

    local.register(fine)
    with pytest.raises(ToolDefinitionError, match="already registered"):
        local.register(fine)
    local.register(fine, name="fine_again")
    assert local.names() == ["fine", "fine_again"]


def test_the_decorator_returns_the_function_unchanged() -> None:
    assert inspect.iscoroutinefunction(get_menu)
    tool = registry.get("get_menu")
    assert tool is not None and tool.func is get_menu and tool.timeout == 5


# -- docstrings ---------------------------------------------------------------------------------------
def test_docstring_parsing() -> None:
    doc = parse_docstring(
        """Book an appointment
        for a client.

        More detail for humans.

        Args:
            service_id (int): The service,
                from get_available_services.
            when: Start time.

        Returns:
            ignored: not a parameter.
        """
    )
    assert doc.description == "Book an appointment for a client."
    assert doc.params == {"service_id": "The service, from get_available_services.", "when": "Start time."}
    assert parse_docstring(None).description == ""
    assert parse_docstring("One line.").params == {}


async def test_parameter_names_that_shadow_pydantic_attributes_still_work() -> None:
    local = ToolRegistry()

    @local.tool()
    async def export(ctx: ToolContext, json: bool, copy: int = 1, model_name: str = "x") -> dict[str, Any]:
        """Export something.

        Args:
            json: As JSON.
        """
        return {"json": json, "copy": copy, "model_name": model_name}

    (schema,) = local.schemas()
    assert list(schema["parameters"]["properties"]) == ["json", "copy", "model_name"]
    assert schema["parameters"]["properties"]["json"] == {"description": "As JSON.", "type": "boolean"}
    result = await local.call("export", '{"json": true, "copy": 2}', make_ctx())
    assert result.output == {"json": True, "copy": 2, "model_name": "x"}
    wrong = await local.call("export", '{"json": "maybe", "arg_json": true}', make_ctx())
    assert [f["field"] for f in error_of(wrong)["fields"]] == ["json", "arg_json"]
