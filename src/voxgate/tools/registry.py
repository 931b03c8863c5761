"""Server-side tools: plain typed async functions, registered with a decorator.

::

    registry = ToolRegistry()

    @registry.tool(timeout=5, filler={"en": "One moment, let me check.", "ro": "Un moment, verific."})
    async def get_menu(ctx: ToolContext, category: str | None = None) -> dict[str, Any]:
        \"\"\"List the drinks on the menu, with prices and availability.

        Args:
            category: Only this category, e.g. "cocktails".
        \"\"\"

The first parameter is the injected :class:`ToolContext`; the others become the JSON schema the model
sees (pydantic, from the type hints, with descriptions from the docstring or ``Field``).

:meth:`ToolRegistry.call` never raises for anything the model or the tool did. Every failure becomes a
structured output the model can read and recover from, ``{"error": {"code": ..., "message": ...}}``:

- ``unknown_tool``        no such tool (or not offered to this agent)
- ``malformed_json``      the arguments are not JSON
- ``invalid_arguments``   they do not match the schema; ``fields`` lists each problem;
                          the function is not called
- ``timeout``             the tool ran past its timeout and was cancelled
- ``<ToolError.code>``    the tool refused with :class:`ToolError` (its message is for the model)
- ``internal_error``      any other exception: logged with its traceback, not shown to the model
- ``not_client_callable`` :meth:`~ToolRegistry.call_from_client` on a tool not marked for clients

Tools never touch sockets; a tool that writes must do so in one transaction, so that a timeout (which
cancels it) leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from voxgate.tools.docstrings import parse_docstring
from voxgate.tools.schema import JSON, ToolDefinitionError, arguments_model, call_arguments, function_tool

__all__ = [
    "Filler",
    "Tool",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
]

log = logging.getLogger("voxgate.tools")

DEFAULT_FILLER: Final[Mapping[str, str]] = {"en": "One moment, please.", "ro": "Un moment, vă rog."}


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ToolContext:
    """What a tool may use. No sockets: the I/O layer builds one per call from the session."""

    session_id: str
    agent: str
    business_id: int | None = None
    now: Callable[[], datetime] = _utc_now
    """The injected clock (aware datetimes); tools never read the wall clock themselves."""
    db: Any = None
    """An async session factory (``voxgate.store``), or ``None`` when the gateway runs without one."""
    state: dict[str, Any] = field(default_factory=dict)
    """Per-session scratch shared by the session's tool calls (e.g. the result of ``check_id``)."""
    language: str = "en"


class ToolError(Exception):
    """Raised by a tool to refuse with a message meant for the model ("That item is out of stock.").

    Keyword ``details`` join ``code`` and ``message`` in the error output the model reads.
    """

    def __init__(self, message: str, code: str = "tool_error", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details
        """Structured facts beside the message (e.g. ``alternatives``), added to the error output."""


class Filler(NamedTuple):
    """The line the I/O layer says when a tool has run for ``after_s`` seconds without answering."""

    text: str
    after_s: float


@dataclass(frozen=True, slots=True)
class ToolResult:
    """One finished call, with everything needed to persist it."""

    name: str
    ok: bool
    output: JSON
    """The ``function_call_output`` for the model; on failure ``{"error": {"code", "message", ...}}``."""
    arguments: JSON | str
    """The parsed arguments, or the raw text when it was not a JSON object."""
    duration_ms: float
    session_id: str
    started_at: datetime
    """From the context's clock."""

    @property
    def error_code(self) -> str | None:
        error = self.output.get("error") if not self.ok else None
        return str(error["code"]) if isinstance(error, dict) and "code" in error else None

    def output_json(self) -> str:
        return orjson.dumps(self.output).decode()

    def record(self) -> JSON:
        """A flat row for the store: session, name, arguments, result, ok/error, duration."""
        return {
            "session_id": self.session_id,
            "name": self.name,
            "arguments": self.arguments,
            "output": self.output,
            "ok": self.ok,
            "error_code": self.error_code,
            "duration_ms": self.duration_ms,
            "started_at": self.started_at,
        }


ToolFunction = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFunction)


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    func: ToolFunction
    arguments: type[BaseModel]
    timeout: float
    client_callable: bool
    filler: Mapping[str, str]
    filler_after_s: float

    def schema(self) -> JSON:
        return function_tool(self.name, self.description, self.arguments)

    def filler_for(self, language: str) -> Filler | None:
        """The filler in ``language``, else in English, else none (an empty mapping means: never)."""
        text = self.filler.get(language) or self.filler.get(language.split("-")[0]) or self.filler.get("en")
        return Filler(text, self.filler_after_s) if text else None


_INTERNAL: Final = "The tool failed unexpectedly. Tell the user it did not work and offer another way."


def _error(code: str, message: str, **extra: Any) -> JSON:
    return {"error": {"code": code, "message": message, **extra}}


def _field_errors(exc: ValidationError) -> list[JSON]:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        problems.append({"field": loc, "problem": err["msg"]})
    return problems


def _as_output(value: Any) -> JSON:
    """What a tool returned, as a JSON object (dates as ISO strings, models dumped)."""
    plain = to_jsonable_python(value)
    return plain if isinstance(plain, dict) else {"result": plain}


class ToolRegistry:
    def __init__(
        self,
        *,
        default_timeout: float = 10.0,
        default_filler: Mapping[str, str] = DEFAULT_FILLER,
        default_filler_after_s: float = 1.5,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.default_timeout = default_timeout
        self.default_filler = dict(default_filler)
        self.default_filler_after_s = default_filler_after_s
        self._clock = clock  # only for durations; timestamps come from the context's clock
        self._tools: dict[str, Tool] = {}
        # Each tool's definition as JSON, made once: pydantic builds a JSON schema afresh at every
        # call (a few milliseconds per tool, and thousands of objects for the garbage collector),
        # and every session that opens asks for its agent's tools.
        self._schemas: dict[str, bytes] = {}

    # -- registration ------------------------------------------------------------------------------
    def tool(
        self,
        *,
        name: str | None = None,
        timeout: float | None = None,
        client_callable: bool = False,
        filler: Mapping[str, str] | None = None,
        filler_after_s: float | None = None,
    ) -> Callable[[F], F]:
        """Register an async function as a tool: ``@registry.tool()`` or ``@registry.tool(timeout=3)``.

        ``filler=None`` uses the registry's default lines; ``filler={}`` means the tool never needs one.
        The function is returned unchanged, so it stays directly callable in tests.
        """

        def register(f: F) -> F:
            self.register(
                f,
                name=name,
                timeout=timeout,
                client_callable=client_callable,
                filler=filler,
                filler_after_s=filler_after_s,
            )
            return f

        return register

    def register(
        self,
        func: ToolFunction,
        *,
        name: str | None = None,
        timeout: float | None = None,
        client_callable: bool = False,
        filler: Mapping[str, str] | None = None,
        filler_after_s: float | None = None,
    ) -> Tool:
        tool_name = name or func.__name__
        if not inspect.iscoroutinefunction(func):
            raise ToolDefinitionError(f"tool {tool_name!r} must be an async function")
        if tool_name in self._tools:
            raise ToolDefinitionError(f"tool {tool_name!r} is already registered")
        doc = parse_docstring(func.__doc__)
        if not doc.description:
            raise ToolDefinitionError(f"tool {tool_name!r} needs a docstring: it is the model's only manual")
        tool = Tool(
            name=tool_name,
            description=doc.description,
            func=func,
            arguments=arguments_model(func, tool_name, doc),
            timeout=self.default_timeout if timeout is None else timeout,
            client_callable=client_callable,
            filler=dict(self.default_filler if filler is None else filler),
            filler_after_s=self.default_filler_after_s if filler_after_s is None else filler_after_s,
        )
        # Made here, so a model pydantic cannot describe fails at registration, not at the first session.
        self._schemas[tool_name] = orjson.dumps(tool.schema())
        self._tools[tool_name] = tool
        return tool

    # -- lookup ------------------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self, names: Iterable[str] | None = None) -> list[JSON]:
        """Function-tool definitions for ``session.tools``, in the order asked (all when ``None``)."""
        chosen = self._schemas if names is None else [n for n in names if n in self._schemas]
        return [orjson.loads(self._schemas[name]) for name in chosen]  # a copy each: callers may change it

    def filler(self, name: str, language: str) -> Filler | None:
        """The filler line for a slow call of ``name``; the registry never speaks it itself."""
        tool = self._tools.get(name)
        return tool.filler_for(language) if tool else None

    # -- calls -------------------------------------------------------------------------------------
    async def call(
        self,
        name: str,
        arguments: str | Mapping[str, Any],
        ctx: ToolContext,
        *,
        allowed: Collection[str] | None = None,
    ) -> ToolResult:
        """Run a model-requested call. ``allowed``: the tools offered to this agent (others are unknown)."""
        tool = self._tools.get(name)
        if tool is None or (allowed is not None and name not in allowed):
            return self._failed(ctx, name, arguments, self._unknown(name, allowed))
        return await self._run(tool, arguments, ctx)

    async def call_from_client(
        self, name: str, arguments: str | Mapping[str, Any], ctx: ToolContext
    ) -> ToolResult:
        """Run a call a browser client asked for (the ``function_call`` message): client-callable only."""
        tool = self._tools.get(name)
        if tool is None:
            return self._failed(ctx, name, arguments, self._unknown(name, None))
        if not tool.client_callable:
            output = _error("not_client_callable", f"The tool {name!r} cannot be called by clients.")
            return self._failed(ctx, name, arguments, output)
        return await self._run(tool, arguments, ctx)

    def _unknown(self, name: str, allowed: Collection[str] | None) -> JSON:
        available = [n for n in self._tools if allowed is None or n in allowed]
        return _error("unknown_tool", f"There is no tool named {name!r}.", available=available)

    async def _run(self, tool: Tool, arguments: str | Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        started, started_at = self._clock(), ctx.now()

        def finish(ok: bool, recorded: JSON | str, output: JSON) -> ToolResult:
            duration_ms = round((self._clock() - started) * 1000.0, 3)
            return ToolResult(tool.name, ok, output, recorded, duration_ms, ctx.session_id, started_at)

        if isinstance(arguments, str):
            try:
                # The Realtime API sends "" for a call without arguments now and then.
                parsed: Any = orjson.loads(arguments) if arguments.strip() else {}
            except orjson.JSONDecodeError as exc:
                return finish(
                    False, arguments, _error("malformed_json", f"The arguments are not valid JSON: {exc}.")
                )
        else:
            parsed = dict(arguments)
        if not isinstance(parsed, dict):
            return finish(
                False, str(arguments), _error("invalid_arguments", "The arguments must be a JSON object.")
            )

        try:
            validated = tool.arguments.model_validate(parsed)
        except ValidationError as exc:
            fields = _field_errors(exc)
            summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields)
            return finish(
                False, parsed, _error("invalid_arguments", f"Invalid arguments: {summary}.", fields=fields)
            )
        kwargs = call_arguments(validated)

        try:
            async with asyncio.timeout(tool.timeout) as deadline:
                value = await tool.func(ctx, **kwargs)
            return finish(True, parsed, _as_output(value))
        except ToolError as exc:
            log.info("tool %s refused: %s (%s)", tool.name, exc.message, exc.code)
            details = to_jsonable_python(exc.details)
            return finish(False, parsed, _error(exc.code, exc.message, **details))
        except TimeoutError:
            if deadline.expired():
                log.warning("tool %s timed out after %g s", tool.name, tool.timeout)
                return finish(
                    False,
                    parsed,
                    _error("timeout", f"The tool did not answer within {tool.timeout:g} seconds."),
                )
            # The tool's own I/O timed out, not our deadline: an unexpected failure like any other.
            log.exception("tool %s failed", tool.name)
            return finish(False, parsed, _error("internal_error", _INTERNAL))
        except Exception:
            # Logged once here with the traceback; the model gets no internals to repeat to the caller.
            log.exception("tool %s failed", tool.name)
            return finish(False, parsed, _error("internal_error", _INTERNAL))

    def _failed(
        self, ctx: ToolContext, name: str, arguments: str | Mapping[str, Any], output: JSON
    ) -> ToolResult:
        recorded = arguments if isinstance(arguments, str) else dict(arguments)
        return ToolResult(name, False, output, recorded, 0.0, ctx.session_id, ctx.now())
