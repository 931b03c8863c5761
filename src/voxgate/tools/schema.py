"""From a typed async function to the pydantic model of its arguments and the schema the model sees.

The JSON schema is pydantic's, never written by hand. Two clean-ups make it friendlier to the
Realtime model, which reads it as part of its prompt: ``$ref`` pointers into ``$defs`` are inlined
(a reference is one more hop the model must resolve; recursive models keep theirs) and the
``title`` keywords pydantic derives from field names are dropped (they repeat the property name).
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from voxgate.tools.docstrings import Docstring

JSON = dict[str, Any]

# Keywords whose value is one subschema, a list of them, or a name -> subschema mapping.
_ONE: Final = frozenset({"items", "additionalProperties", "not", "if", "then", "else", "contains"})
_MANY: Final = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_NAMED: Final = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})


_ALIAS_PREFIX: Final = "arg_"


def _shadows_model_attribute(name: str) -> bool:
    return name.startswith(("model_", _ALIAS_PREFIX)) or hasattr(BaseModel, name)


def call_arguments(validated: BaseModel) -> dict[str, Any]:
    """Keyword arguments for the tool from its validated arguments model.

    Attributes, not ``model_dump()``: nested models, enums and dates reach the tool as typed objects.
    """
    fields = type(validated).model_fields
    return {info.alias or name: getattr(validated, name) for name, info in fields.items()}


class ToolDefinitionError(TypeError):
    """A function cannot be a tool as written (raised at registration, never at call time)."""


def _has_description(annotation: Any) -> bool:
    if typing.get_origin(annotation) is not typing.Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in typing.get_args(annotation)[1:])


def arguments_model(func: Callable[..., Any], name: str, doc: Docstring) -> type[BaseModel]:
    """A pydantic model of ``func``'s parameters after the injected first one (``ctx``)."""
    signature = inspect.signature(func)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise ToolDefinitionError(
            f"tool {name!r}: the first parameter must be the context (ctx: ToolContext)"
        )
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except NameError as exc:  # a hint that names something the module cannot see
        raise ToolDefinitionError(f"tool {name!r}: cannot resolve type hints: {exc}") from exc

    fields: dict[str, Any] = {}
    for param in parameters[1:]:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {name!r}: *args/**kwargs cannot be described to the model")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolDefinitionError(f"tool {name!r}: parameter {param.name!r} must be passable by name")
        if param.name not in hints:
            raise ToolDefinitionError(f"tool {name!r}: parameter {param.name!r} needs a type hint")
        annotation = hints[param.name]
        default = ... if param.default is inspect.Parameter.empty else param.default
        described = doc.params.get(param.name)
        # An explicit Field(description=...) in Annotated wins over the docstring.
        description = described if described and not _has_description(annotation) else None
        if _shadows_model_attribute(param.name):
            # "json", "copy", "model_*" would shadow BaseModel's own attributes: the field gets a private
            # name and the parameter's name as its alias, which is what the schema and validation use.
            field_name = _ALIAS_PREFIX + param.name
            fields[field_name] = (annotation, Field(default, alias=param.name, description=description))
        elif description:
            fields[param.name] = (annotation, Field(default, description=description))
        else:
            fields[param.name] = (annotation, default)

    unknown = set(doc.params) - {p.name for p in parameters}
    if unknown:
        raise ToolDefinitionError(f"tool {name!r}: docstring describes unknown parameters {sorted(unknown)}")

    # extra="forbid": an argument the model invented is reported to it rather than silently dropped.
    model: type[BaseModel] = create_model(
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def _clean(node: Any, defs: dict[str, Any], stack: tuple[str, ...], kept: set[str]) -> Any:
    """Copy of one subschema with refs inlined and titles dropped; ``kept`` collects unresolved refs."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = ref.removeprefix("#/$defs/")
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if target in stack or target not in defs:  # recursion: keep the pointer
            kept.add(target)
            return {"$ref": ref, **_clean(siblings, defs, stack, kept)}
        inlined = _clean(defs[target], defs, (*stack, target), kept)
        # Field-level keywords (description, default) override the shared definition's.
        return {**inlined, **_clean(siblings, defs, stack, kept)}
    out: JSON = {}
    for key, value in node.items():
        if key == "title" or key == "$defs":
            continue
        if key in _ONE:
            out[key] = _clean(value, defs, stack, kept)
        elif key in _MANY and isinstance(value, list):
            out[key] = [_clean(v, defs, stack, kept) for v in value]
        elif key in _NAMED and isinstance(value, dict):
            out[key] = {k: _clean(v, defs, stack, kept) for k, v in value.items()}
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(schema: JSON) -> JSON:
    """Inline ``$defs`` references and drop titles; ``$defs`` survive only for recursive models."""
    defs: dict[str, Any] = schema.get("$defs", {})
    kept: set[str] = set()
    out: JSON = _clean(schema, defs, (), kept)
    # Definitions reached only through kept pointers may point at further ones: close over them.
    pending, needed = list(kept), set()
    while pending:
        name = pending.pop()
        if name in needed or name not in defs:
            continue
        needed.add(name)
        more: set[str] = set()
        _clean(defs[name], defs, (name,), more)
        pending.extend(more)
    if needed:
        out["$defs"] = {n: _clean(defs[n], defs, (n,), set()) for n in sorted(needed)}
    return out


def function_tool(name: str, description: str, model: type[BaseModel]) -> JSON:
    """The Realtime API's function-tool shape for ``session.tools``."""
    parameters = flatten(model.model_json_schema())
    parameters.setdefault("properties", {})
    return {"type": "function", "name": name, "description": description, "parameters": parameters}
