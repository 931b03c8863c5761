"""The Realtime protocol as the ``openai`` SDK defines it, made fast to validate.

The SDK ships a pydantic model for every GA client and server event. Its unions carry the
discriminator in SDK-private metadata that pydantic does not see, so a plain ``TypeAdapter`` tries
every member in turn (about 100 us per event). Rebuilding the same members as a union with
``Field(discriminator="type")`` makes pydantic dispatch on ``type`` first (a few us per event).
Nothing here retypes the protocol: every model comes from ``openai.types.realtime``.

This module is pure: no I/O, no clock.
"""

from __future__ import annotations

import secrets
import string
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Final, Union

import orjson
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

JSON = dict[str, Any]

_ALPHABET: Final = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 21) -> str:
    """An id in the shape the real service uses: ``prefix`` + random alphanumerics.

    One ``getrandom`` call per id (``secrets.choice`` makes one per character, and ids are made for
    every event the simulator sends). ``byte % 62`` leans slightly towards the first eight
    characters: about 5.9 bits of entropy per character instead of 5.95, fine for ids and secrets alike.
    """
    return prefix + "".join([_ALPHABET[byte % 62] for byte in secrets.token_bytes(length)])


def _members(union_alias: Any) -> tuple[type[BaseModel], ...]:
    union = typing.get_args(union_alias)[0]
    return typing.get_args(union)


CLIENT_EVENT_MODELS: Final = _members(RealtimeClientEvent)
SERVER_EVENT_MODELS: Final = _members(RealtimeServerEvent)


def _type_literal(model: type[BaseModel]) -> str:
    annotation = model.model_fields["type"].annotation
    (value,) = typing.get_args(annotation)
    return str(value)


CLIENT_EVENT_TYPES: Final[frozenset[str]] = frozenset(_type_literal(m) for m in CLIENT_EVENT_MODELS)
SERVER_EVENT_TYPES: Final[frozenset[str]] = frozenset(_type_literal(m) for m in SERVER_EVENT_MODELS)


def _discriminated(members: tuple[type[BaseModel], ...]) -> TypeAdapter[Any]:
    # The union is built at run time from the SDK's members, so it is typed Any for mypy.
    union: Any = Union[members]  # noqa: UP007
    annotated: Any = Annotated[union, Field(discriminator="type")]
    return TypeAdapter(annotated)


ClientEventAdapter: Final = _discriminated(CLIENT_EVENT_MODELS)
ServerEventAdapter: Final = _discriminated(SERVER_EVENT_MODELS)


@dataclass(frozen=True, slots=True)
class ProtocolError(Exception):
    """A client message the protocol rejects, carried as the fields of a Realtime ``error`` event."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None
    error_type: str = "invalid_request_error"

    def to_event(self) -> JSON:
        return error_event(
            self.code, self.message, param=self.param, event_id=self.event_id, error_type=self.error_type
        )


def error_event(
    code: str,
    message: str,
    *,
    param: str | None = None,
    event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> JSON:
    """A server ``error`` event in the Realtime shape; ``event_id`` is the offending client event's."""
    return {
        "type": "error",
        "event_id": new_id("event_"),
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        },
    }


def decode_json_object(raw: str | bytes) -> JSON:
    """Parse one WebSocket text frame into a JSON object with a string ``type``."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError("invalid_json", f"The message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_event", "Each message must be a JSON object.")
    event_id = data.get("event_id")
    event_id = event_id if isinstance(event_id, str) else None
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            "invalid_event", "The message has no string 'type' field.", param="type", event_id=event_id
        )
    return data


def _path(loc: tuple[int | str, ...], skip_tags: frozenset[str]) -> str | None:
    # pydantic puts union tags (event and item type names) into the location; the wire path has none.
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if parts:
                parts[-1] += f"[{part}]"
            continue
        if (
            part in skip_tags
            or part[:1].isupper()
            or part.startswith(("function-", "literal["))
            or "[" in part
        ):
            continue
        parts.append(part)
    return ".".join(parts) or None


_UNION_TAGS: Final = frozenset(CLIENT_EVENT_TYPES | SERVER_EVENT_TYPES) | frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "str",
        "int",
        "float",
        "list",
        "dict",
        "none",
        "RealtimeFunctionTool",
        "McpTool",
    }
)


def protocol_error_from_validation(exc: ValidationError, event_id: str | None) -> ProtocolError:
    """Map the first pydantic error onto the Realtime error codes (protocol-reference, section 10)."""
    first = exc.errors(include_url=False)[0]
    kind = first["type"]
    param = _path(tuple(first["loc"]), _UNION_TAGS)
    if kind == "union_tag_invalid":
        tag = first.get("input", {}).get("type") if isinstance(first.get("input"), dict) else None
        return ProtocolError(
            "invalid_value",
            f"Invalid value: '{tag}'. Supported values are listed in the API reference.",
            param=(param + ".type") if param else "type",
            event_id=event_id,
        )
    if kind == "missing":
        return ProtocolError(
            "missing_required_parameter",
            f"Missing required parameter: '{param}'.",
            param=param,
            event_id=event_id,
        )
    if kind == "extra_forbidden":
        return ProtocolError(
            "unknown_parameter", f"Unknown parameter: '{param}'.", param=param, event_id=event_id
        )
    return ProtocolError(
        "invalid_value", f"Invalid value for '{param}': {first['msg']}.", param=param, event_id=event_id
    )


def validate_client_event(data: JSON) -> BaseModel:
    """Validate a decoded client event against the SDK's GA client-event models."""
    event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
    if data["type"] not in CLIENT_EVENT_TYPES:
        raise ProtocolError(
            "invalid_value",
            f"Invalid value: '{data['type']}'. Supported: {', '.join(sorted(CLIENT_EVENT_TYPES))}.",
            param="type",
            event_id=event_id,
        )
    try:
        model: BaseModel = ClientEventAdapter.validate_python(data)
    except ValidationError as exc:
        raise protocol_error_from_validation(exc, event_id) from None
    return model


def unknown_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """Paths of fields the SDK models do not know (they allow extras; the real server does not)."""
    found: list[str] = []
    for name in model.model_extra or {}:
        found.append(f"{prefix}{name}")
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        found.extend(_unknown_in(value, f"{prefix}{name}"))
    return found


def _unknown_in(value: Any, path: str) -> list[str]:
    if isinstance(value, BaseModel):
        return unknown_fields(value, path + ".")
    if isinstance(value, list):
        out: list[str] = []
        for index, element in enumerate(value):
            out.extend(_unknown_in(element, f"{path}[{index}]"))
        return out
    return []


def validate_server_event(data: JSON) -> BaseModel:
    """Validate a server event against the SDK's GA server-event union (raises ValidationError)."""
    model: BaseModel = ServerEventAdapter.validate_python(data)
    return model


def dumps(data: Any) -> str:
    """Serialise one event for a WebSocket text frame."""
    return orjson.dumps(data).decode()
