"""Scripted behaviour for the simulator, loaded from JSON.

A scenario is a list of steps (or ``{"name", "description", "transcripts", "steps"}``). The first
step that matches the turn the simulator is answering decides the reply::

    {"when": "menu", "call": "get_menu", "arguments": {}}
    {"when": "book (?P<what>\\\\w+)", "say": "Booking {{match.what}}."}
    {"after": "get_menu", "say": "We have {{output.items[0].name}}."}
    {"after": "get_available_services", "call": "check_availability",
     "arguments": {"service_id": "{{output.services[0].id}}"}}
    {"when": "slow please", "delay_ms": 800}
    {"when": "break it", "error": {"code": "server_error", "message": "Injected."}}
    {"when": "hang up", "drop": 1011, "drop_after_ms": 400}
    {"when": "give up", "fail": {"code": "rate_limit_exceeded", "message": "Try later."}}

``when`` matches the latest user text as a case- and accent-insensitive substring, or as a regular
expression (``*`` matches anything). ``after`` names the tool whose output the simulator is
answering. Templates ``{{output.path}}``, ``{{arguments.path}}``, ``{{user}}``, ``{{match.N}}`` take
values from that tool output, the call's arguments, the user's words and the regex groups; a string
that is exactly one template keeps the value's JSON type. ``transcripts`` lists what the simulator
"hears" for successive user audio turns (in place of a speech recogniser).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from voxgate.protocol.realtime import JSON
from voxgate.simulator.lang import fold

SCENARIO_DIR: Final = Path(__file__).parent / "scenarios"

_STEP_KEYS: Final = frozenset(
    {"when", "after", "say", "call", "arguments", "calls", "error", "fail", "drop", "drop_reason",
     "drop_after_ms", "delay_ms", "once"}
)  # fmt: skip
_SCENARIO_KEYS: Final = frozenset({"name", "description", "transcripts", "steps"})
_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    name: str
    arguments: JSON


@dataclass(frozen=True, slots=True)
class Step:
    when: str | None = None
    after: str | None = None
    say: str | None = None
    calls: tuple[ScriptedCall, ...] = ()
    error: JSON | None = None
    fail: JSON | None = None
    drop: int | None = None
    drop_reason: str = "simulated drop"
    drop_after_ms: float | None = None
    delay_ms: int = 0
    once: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def decides_reply(self) -> bool:
        """Whether the step says what to answer (else the brain answers, after the step's hooks)."""
        return bool(self.say is not None or self.calls or self.fail or self.drop is not None)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    steps: tuple[Step, ...] = ()
    transcripts: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Trigger:
    """What the simulator is answering: a user's words, or a tool's output."""

    user_text: str | None = None
    tool_name: str | None = None
    tool_output: str | None = None
    tool_arguments: str | None = None


@dataclass(frozen=True, slots=True)
class Matched:
    """A matched step with its templates filled in."""

    step: Step
    say: str | None
    calls: tuple[ScriptedCall, ...]
    error: JSON | None
    fail: JSON | None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; its name is the file's stem unless the file names itself."""
    source = Path(path)
    try:
        data = orjson.loads(source.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ScenarioError(f"{source}: not valid JSON ({exc})") from None
    return parse_scenario(data, default_name=source.stem, where=str(source))


def shipped_scenario(name: str) -> Scenario:
    """A scenario shipped in ``voxgate/simulator/scenarios`` (by file stem)."""
    if not re.fullmatch(r"[\w-]+", name):
        raise ScenarioError(f"no shipped scenario named {name!r}")
    path = SCENARIO_DIR / f"{name}.json"
    if not path.is_file():
        raise ScenarioError(f"no shipped scenario named {name!r}")
    return load_scenario(path)


def shipped_scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.json"))


def parse_scenario(data: Any, *, default_name: str = "scenario", where: str = "scenario") -> Scenario:
    if isinstance(data, list):
        data = {"steps": data}
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a list of steps or an object with 'steps'")
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    steps_data = data.get("steps", [])
    transcripts = data.get("transcripts", [])
    if not isinstance(steps_data, list) or not isinstance(transcripts, list):
        raise ScenarioError(f"{where}: 'steps' and 'transcripts' must be lists")
    steps = tuple(_parse_step(s, f"{where} step {i + 1}") for i, s in enumerate(steps_data))
    return Scenario(
        name=str(data.get("name") or default_name),
        steps=steps,
        transcripts=tuple(str(t) for t in transcripts),
        description=str(data.get("description", "")),
    )


def _parse_step(data: Any, where: str) -> Step:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: a step must be an object")
    unknown = set(data) - _STEP_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    when, after = data.get("when"), data.get("after")
    if when is None and after is None:
        raise ScenarioError(f"{where}: a step needs 'when' or 'after'")
    calls: list[ScriptedCall] = []
    if "call" in data:
        calls.append(_parse_call({"call": data["call"], "arguments": data.get("arguments", {})}, where))
    for entry in data.get("calls", []):
        calls.append(_parse_call(entry, where))
    for key in ("error", "fail"):
        if key in data and not isinstance(data[key], dict):
            raise ScenarioError(f"{where}: '{key}' must be an object with 'code' and 'message'")
    drop = data.get("drop")
    if drop is not None and (not isinstance(drop, int) or not 1000 <= drop <= 4999):
        raise ScenarioError(f"{where}: 'drop' must be a WebSocket close code (1000-4999)")
    pattern: re.Pattern[str] | None = None
    if isinstance(when, str) and when != "*":
        try:
            pattern = re.compile(when, re.IGNORECASE)
        except re.error:
            pattern = None  # not a regular expression: a plain substring
    return Step(
        when=str(when) if when is not None else None,
        after=str(after) if after is not None else None,
        say=str(data["say"]) if "say" in data else None,
        calls=tuple(calls),
        error=data.get("error"),
        fail=data.get("fail"),
        drop=drop,
        drop_reason=str(data.get("drop_reason", "simulated drop")),
        drop_after_ms=float(data["drop_after_ms"]) if "drop_after_ms" in data else None,
        delay_ms=int(data.get("delay_ms", 0)),
        once=bool(data.get("once", False)),
        pattern=pattern,
    )


def _parse_call(data: Any, where: str) -> ScriptedCall:
    if not isinstance(data, dict) or not isinstance(data.get("call"), str):
        raise ScenarioError(f"{where}: a call needs 'call' (the tool name) and optional 'arguments'")
    arguments = data.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ScenarioError(f"{where}: 'arguments' must be an object")
    return ScriptedCall(data["call"], arguments)


class ScenarioRunner:
    """The active scenarios of one connection, with the memory of ``once`` steps already used."""

    def __init__(self, scenarios: Sequence[Scenario]) -> None:
        self.scenarios = tuple(scenarios)
        self._used: set[tuple[int, int]] = set()
        self._heard = 0

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    def next_transcript(self) -> str | None:
        """What the scenarios say the next user audio turn contains, if they script it."""
        scripted = [t for s in self.scenarios for t in s.transcripts]
        if self._heard >= len(scripted):
            return None
        self._heard += 1
        return scripted[self._heard - 1]

    def match(self, trigger: Trigger) -> Matched | None:
        for s_index, scenario in enumerate(self.scenarios):
            for index, step in enumerate(scenario.steps):
                if step.once and (s_index, index) in self._used:
                    continue
                groups = _step_matches(step, trigger)
                if groups is None:
                    continue
                self._used.add((s_index, index))
                return _fill(step, trigger, groups)
        return None


def _step_matches(step: Step, trigger: Trigger) -> dict[str, str] | None:
    if step.after is not None:
        if trigger.tool_name != step.after:
            return None
        return {} if step.when is None else _text_matches(step, trigger.tool_output or "")
    if trigger.user_text is None or step.when is None:
        return None
    return _text_matches(step, trigger.user_text)


def _text_matches(step: Step, text: str) -> dict[str, str] | None:
    when = step.when or ""
    if when == "*":
        return {}
    if step.pattern is not None:
        found = step.pattern.search(text) or step.pattern.search(fold(text))
        if found:
            groups = {str(i + 1): g or "" for i, g in enumerate(found.groups())}
            groups.update({k: v or "" for k, v in found.groupdict().items()})
            groups["0"] = found.group(0)
            return groups
    if fold(when) in fold(text):
        return {"0": when}
    return None


def _fill(step: Step, trigger: Trigger, groups: dict[str, str]) -> Matched:
    context: JSON = {
        "output": _loads_or_text(trigger.tool_output),
        "arguments": _loads_or_text(trigger.tool_arguments),
        "user": trigger.user_text or "",
        "match": groups,
    }
    say = render(step.say, context) if step.say is not None else None
    calls = tuple(ScriptedCall(c.name, render(c.arguments, context)) for c in step.calls)
    return Matched(step, str(say) if say is not None else None, calls, step.error, step.fail)


def _loads_or_text(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def render(value: Any, context: JSON) -> Any:
    """Fill ``{{path}}`` templates in strings, recursively through lists and objects."""
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if not isinstance(value, str):
        return value
    whole = _TEMPLATE.fullmatch(value)
    if whole:
        return lookup(context, whole[1])
    return _TEMPLATE.sub(lambda m: _as_text(lookup(context, m[1])), value)


def lookup(context: Any, path: str) -> Any:
    """``output.items[0].name`` in ``context``; None where the path does not lead anywhere."""
    current = context
    for name, index in _PATH_PART.findall(path):
        if index:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        elif isinstance(current, dict):
            current = current.get(name)
        else:
            return None
    return current


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return orjson.dumps(value).decode() if isinstance(value, dict | list | bool) else str(value)
