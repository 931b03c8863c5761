"""Which session tool the caller asks for, with which arguments, and what to do when one is missing.

Tools are scored against the caller's words: 3 for each word of the tool's name (1 for a generic
verb such as "get"), 1 for each description word no other tool uses, 2 for each argument the words
fill. The best tool is called when its required arguments are known; when it lacks an id or item
name that another tool lists, that tool is called first; otherwise the brain asks for what is
missing. After tool outputs, a tool the caller asked for more strongly may follow (lookup, then book).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import orjson

from voxgate.protocol.realtime import JSON
from voxgate.simulator.lang import GENERIC_VERBS, STOPWORDS, humanize, stem, stems
from voxgate.simulator.slots import Filled, classify, fill_arguments
from voxgate.simulator.turns import PLACEHOLDER, BrainInput, Call, Turn

INTENT_WINDOW: Final = 4


@dataclass(frozen=True, slots=True)
class Missing:
    """The tool the caller wants cannot be called yet: these required arguments are unknown."""

    tool: JSON
    names: tuple[str, ...]

    @property
    def properties(self) -> JSON:
        return (parameters_of(self.tool) or {}).get("properties") or {}


def function_tools(tools: Sequence[JSON]) -> list[JSON]:
    return [t for t in tools if t.get("type", "function") == "function" and isinstance(t.get("name"), str)]


def _name_words(tool: JSON) -> list[str]:
    return [
        word
        for word in re.split(r"[_\W]+", humanize(str(tool["name"])))
        if len(word) >= 3 and (word not in STOPWORDS or word in GENERIC_VERBS)
    ]


def description_stems(tool: JSON) -> set[str]:
    return stems(str(tool.get("description") or ""))


def tool_score(
    tool: JSON, text: str, outputs: Sequence[Any], today: date, shared: frozenset[str] = frozenset()
) -> int:
    """How strongly ``text`` asks for ``tool``: 3 for each name word said (1 for a generic verb),
    1 for each distinctive description word (``shared`` lists words other tools describe too),
    2 for every argument the text itself fills."""
    said = stems(text)
    score = 0
    name_stems: set[str] = set()
    for word in _name_words(tool):
        word_stem = stem(word)
        name_stems.add(word_stem)
        if word_stem in said:
            score += 1 if word in GENERIC_VERBS else 3
    score += len((description_stems(tool) - name_stems - shared) & said)
    parameters = tool.get("parameters")
    if isinstance(parameters, dict):
        filled = fill_arguments(parameters, [text], outputs, today).arguments
        properties = parameters.get("properties") or {}
        score += 2 * sum(1 for name in filled if classify(name, properties.get(name) or {}) != "free")
    return score


def shared_description_stems(tools: Sequence[JSON]) -> frozenset[str]:
    """Description words that more than one tool uses: they tell the tools apart from nothing."""
    seen: set[str] = set()
    shared: set[str] = set()
    for tool in tools:
        mine = description_stems(tool)
        shared |= seen & mine
        seen |= mine
    return frozenset(shared)


@dataclass(frozen=True, slots=True)
class Candidate:
    score: int
    index: int
    tool: JSON
    filled: Filled


def rank_tools(
    text: str, tools: Sequence[JSON], texts: Sequence[str], outputs: Sequence[Any], today: date
) -> list[Candidate]:
    """Tools ``text`` asks for, best first; a tool whose required arguments are all known gets +1."""
    ranked: list[Candidate] = []
    shared = shared_description_stems(tools)
    for index, tool in enumerate(tools):
        score = tool_score(tool, text, outputs, today, shared)
        if score <= 0:
            continue
        filled = fill_arguments(parameters_of(tool), texts, outputs, today)
        ranked.append(Candidate(score + (0 if filled.missing else 1), index, tool, filled))
    ranked.sort(key=lambda c: (-c.score, c.index))
    return ranked


def parameters_of(tool: JSON) -> JSON | None:
    parameters = tool.get("parameters")
    return parameters if isinstance(parameters, dict) else None


def _history(ctx: BrainInput) -> tuple[list[str], list[Any]]:
    """User texts and parsed tool outputs, newest first."""
    texts = [
        t.text for t in reversed(ctx.turns) if t.role == "user" and t.text and not PLACEHOLDER.match(t.text)
    ]
    outputs = [loads(t.text) for t in reversed(ctx.turns) if t.role == "tool_output"]
    return texts, outputs


def tool_action(ctx: BrainInput) -> Call | Missing | None:
    """The call the user asks for, or what it still needs, or None when no tool is wanted."""
    tools = function_tools(ctx.tools)
    choice = ctx.tool_choice
    if choice == "none" or not tools:
        return None
    texts, outputs = _history(ctx)
    chosen: tuple[JSON, Filled] | None = None
    if isinstance(choice, dict) and choice.get("type") == "function":
        forced = next((t for t in tools if t["name"] == choice.get("name")), None)
        if forced is not None:
            chosen = (forced, fill_arguments(parameters_of(forced), texts, outputs, ctx.today))
    if chosen is None:
        best = _wanted_tool(ctx.turns, tools, texts, outputs, ctx.today)
        chosen = (best.tool, best.filled) if best else None
    if chosen is None and choice == "required":
        chosen = (tools[0], fill_arguments(parameters_of(tools[0]), texts, outputs, ctx.today))
    if chosen is None:
        return None
    tool, filled = chosen
    if filled.missing:
        return Missing(tool, filled.missing)
    return Call(str(tool["name"]), filled.arguments)


def _wanted_tool(
    turns: Sequence[Turn], tools: list[JSON], texts: Sequence[str], outputs: Sequence[Any], today: date
) -> Candidate | None:
    """The tool the latest user turns ask for, looking back over the turns since the last tool call."""
    looked = 0
    for turn in reversed(turns):
        if turn.role in ("tool_call", "tool_output"):
            break
        if turn.role != "user" or not turn.text or PLACEHOLDER.match(turn.text):
            continue
        ranked = rank_tools(turn.text, tools, texts, outputs, today)
        if ranked:
            return _lookup_first(ranked[0], tools, texts, outputs, today)
        looked += 1
        if looked == INTENT_WINDOW:
            break
    return None


def _lookup_first(
    best: Candidate, tools: Sequence[JSON], texts: Sequence[str], outputs: Sequence[Any], today: date
) -> Candidate:
    """The best tool, unless it still lacks an id or item name that another tool lists (a tool named
    or described after it that can be called now): that one first, as a model looks up before it books.
    """
    properties = (parameters_of(best.tool) or {}).get("properties") or {}
    wanted = {
        stem(word)
        for name in best.filled.missing
        if classify(name, properties.get(name) or {}) in ("id", "catalog")
        for word in humanize(name.removesuffix("_id")).split()
        if word not in STOPWORDS
    }
    if not wanted:
        return best
    for index, tool in enumerate(tools):
        if tool is best.tool:
            continue
        known = {stem(w) for w in _name_words(tool)} | description_stems(tool)
        if not wanted & known:
            continue
        filled = fill_arguments(parameters_of(tool), texts, outputs, today)
        if not filled.missing:
            return Candidate(best.score, index, tool, filled)
    return best


def chained_call(ctx: BrainInput) -> Call | None:
    """After tool outputs: a tool the user's latest words ask for more strongly than the ones already
    called for them, and that can be called now (the booking after the lookup, not the reverse)."""
    if ctx.tool_choice == "none":
        return None
    last_user = next((i for i in range(len(ctx.turns) - 1, -1, -1) if ctx.turns[i].role == "user"), None)
    if last_user is None or not ctx.turns[last_user].text:
        return None
    called = {t.name for t in ctx.turns[last_user + 1 :] if t.role == "tool_call"}
    texts, outputs = _history(ctx)
    ranked = rank_tools(ctx.turns[last_user].text, function_tools(ctx.tools), texts, outputs, ctx.today)
    called_score = max((c.score for c in ranked if c.tool["name"] in called), default=0)
    for candidate in ranked:
        if candidate.tool["name"] in called or candidate.filled.missing or candidate.score < called_score:
            continue
        return Call(str(candidate.tool["name"]), candidate.filled.arguments)
    return None


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
