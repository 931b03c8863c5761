"""The interception chain: every message, in both directions, passes an ordered list of hooks.

A hook is a function ``hook(message) -> result``, async or plain (a hook that never waits can be a
plain function: the chain then calls it without making a coroutine, which the relay path notices at
a hundred messages per session-second):

- return the message to pass it on; to change it, return ``message.replace(new_data)`` with a new
  dict (``message.data`` is not edited in place: the frame as received would still be forwarded,
  and the recorder keeps the dict it was given until it records it),
- return ``None`` to drop it (say why with ``message.note``; drops are counted and logged),
- return a ``Reply`` to answer the sender instead of forwarding.

Hooks are grouped in stages that run in this order: ``validate``, ``record``, ``business``,
``tools``, ``forward``. Users register business hooks::

    @app.state.voxgate.chain.hook(direction="client")
    async def no_swearing(message: Message) -> Message | None: ...

The gateway's own validation, recording and tool steps are registered the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

from voxgate.protocol.realtime import JSON

Direction = Literal["client", "upstream"]
"""``client``: from the client towards the upstream; ``upstream``: from the upstream to the client."""

Stage = Literal["validate", "record", "business", "tools", "forward"]
STAGES: tuple[Stage, ...] = ("validate", "record", "business", "tools", "forward")


@dataclass(slots=True)
class Message:
    direction: Direction
    data: JSON
    session: Any
    """The ``GatewaySession`` the message belongs to (``voxgate.transports.bridge``)."""
    raw: str | bytes | None = None
    """The frame as received; forwarded as-is unless a hook changed ``data``."""
    note: str = ""
    type: str = field(init=False)
    """The event's ``type`` (read once: every hook and the chain's plan ask for it)."""

    def __post_init__(self) -> None:
        self.type = str(self.data.get("type", ""))

    def replace(self, data: JSON) -> Message:
        """The same message with new content (the raw frame no longer matches, so it is dropped)."""
        self.data = data
        self.raw = None
        self.type = str(data.get("type", ""))
        return self


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the sender of the message with these events instead of forwarding it."""

    events: Sequence[JSON]


HookResult: TypeAlias = Message | Reply | None
Hook = Callable[[Message], Awaitable[HookResult]] | Callable[[Message], HookResult]


@dataclass(frozen=True, slots=True)
class _Entry:
    stage: Stage
    direction: Direction | None
    types: frozenset[str] | None
    hook: Hook
    name: str
    waits: bool
    """An async hook: its result is awaited."""


@dataclass(slots=True)
class InterceptionChain:
    _entries: list[_Entry] = field(default_factory=list)
    _plans: dict[tuple[Direction, str], tuple[tuple[Any, bool], ...]] = field(default_factory=dict)

    def register(
        self,
        hook: Hook,
        *,
        stage: Stage = "business",
        direction: Direction | None = None,
        types: Sequence[str] | None = None,
        name: str | None = None,
    ) -> Hook:
        """Add a hook; ``direction``/``types`` limit which messages reach it (None = all)."""
        entry = _Entry(
            stage,
            direction,
            frozenset(types) if types else None,
            hook,
            name or str(getattr(hook, "__name__", hook)),
            inspect.iscoroutinefunction(hook),
        )
        self._entries.append(entry)
        self._entries.sort(key=lambda e: STAGES.index(e.stage))  # stable: registration order within a stage
        self._plans.clear()
        return hook

    def hook(
        self,
        *,
        stage: Stage = "business",
        direction: Direction | None = None,
        types: Sequence[str] | None = None,
    ) -> Callable[[Hook], Hook]:
        def decorate(fn: Hook) -> Hook:
            return self.register(fn, stage=stage, direction=direction, types=types)

        return decorate

    def names(self) -> list[str]:
        return [f"{e.stage}:{e.name}" for e in self._entries]

    def _plan(self, direction: Direction, kind: str) -> tuple[tuple[Any, bool], ...]:
        # The hooks a (direction, type) pair reaches, computed once: the relay path stays a flat loop.
        key = (direction, kind)
        plan = self._plans.get(key)
        if plan is None:
            plan = tuple(
                (e.hook, e.waits)
                for e in self._entries
                if (e.direction is None or e.direction == direction) and (e.types is None or kind in e.types)
            )
            if len(self._plans) < 1024:  # types come from clients: never let them grow this without bound
                self._plans[key] = plan
        return plan

    def run_now(self, message: Message) -> HookResult | Awaitable[HookResult]:
        """Run the plain hooks at once; from the first async hook on, the rest comes back as an
        awaitable. A relay whose hooks are all plain functions handles a message without a coroutine."""
        plan = self._plan(message.direction, message.type)
        for index, (hook, waits) in enumerate(plan):
            if waits:
                return self._run_from(plan, index, message)
            result = hook(message)
            if not isinstance(result, Message):
                if result is None or isinstance(result, Reply) or not inspect.isawaitable(result):
                    return result
                # A callable that is not itself an async function (a partial, an object with an async
                # ``__call__``) answered an awaitable: awaited like any async hook's.
                return self._resume(result, plan, index + 1)
            message = result
        return message

    async def run(self, message: Message) -> HookResult:
        result = self.run_now(message)
        if result is None or isinstance(result, Message | Reply):
            return result
        return await result

    async def _resume(
        self, pending: Awaitable[HookResult], plan: tuple[tuple[Any, bool], ...], index: int
    ) -> HookResult:
        result = await pending
        if not isinstance(result, Message):
            return result
        return await self._run_from(plan, index, result)

    async def _run_from(self, plan: tuple[tuple[Any, bool], ...], index: int, message: Message) -> HookResult:
        for hook, _ in plan[index:]:
            result: HookResult | Awaitable[HookResult] = hook(message)
            if not isinstance(result, Message) and inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Message):
                return cast(HookResult, result)
            message = result
        return message
