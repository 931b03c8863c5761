"""The simulator's deterministic "model": given the conversation and the session, decide a reply.

In order of precedence:

1. ``Say exactly: "..."`` in the response's instructions (or, for the very first turn of a
   conversation nobody has spoken in yet, in the session instructions) is spoken word for word.
2. A matching scenario step (see ``scenario.py``) scripts the reply and/or its test hooks.
3. After tool outputs, say what they contain.
4. After the user's words, call the session tool they ask for (by the tool's name and description
   words, in English or Romanian), with arguments taken from the conversation; when a required
   argument is missing, ask for it instead.
5. Otherwise a short conversational answer, in the conversation's language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from voxgate.protocol.realtime import JSON
from voxgate.simulator.describe import describe_output
from voxgate.simulator.intent import Missing, chained_call, tool_action
from voxgate.simulator.lang import Language, detect_language, fold, humanize, instructions_language, words
from voxgate.simulator.scenario import Matched, ScenarioRunner, Trigger
from voxgate.simulator.slots import classify
from voxgate.simulator.turns import PLACEHOLDER, BrainInput, Call, Drop, Reply, Say, Turn

__all__ = [
    "Brain",
    "BrainInput",
    "Call",
    "Drop",
    "Reply",
    "Say",
    "Turn",
    "answer",
    "chat_reply",
    "say_exactly",
]

_SAY_EXACTLY = re.compile(
    r"(?:say exactly|spune exact|rostește exact|rosteste exact)\s*:?\s*"
    r"(?:\"([^\"]+)\"|“([^”]+)”|„([^”“]+)[”“]|'([^']+)')",
    re.IGNORECASE,
)

_LINES: Final[dict[str, dict[Language, str]]] = {
    "greeting": {"en": "Hello! How can I help you today?", "ro": "Bună ziua! Cu ce vă pot ajuta?"},
    "thanks": {"en": "You're welcome! Anything else?", "ro": "Cu plăcere! Vă mai pot ajuta cu ceva?"},
    "bye": {"en": "Goodbye, have a nice day!", "ro": "La revedere, o zi bună!"},
    "echo": {
        "en": 'You said: "{0}". How can I help further?',
        "ro": "Ați spus: „{0}”. Cu ce vă mai pot ajuta?",
    },
    "heard": {
        "en": "I heard you speak for {0} seconds. How can I help?",
        "ro": "V-am auzit vorbind {0} secunde. Cu ce vă pot ajuta?",
    },
    "unclear": {
        "en": "Sorry, I did not catch that. Could you repeat?",
        "ro": "Scuze, nu am înțeles. Puteți repeta?",
    },
    "anything_else": {"en": "Is there anything else I can help with?", "ro": "Vă mai pot ajuta cu ceva?"},
    "waiting": {"en": "One moment, I am still waiting for that.", "ro": "O clipă, încă aștept răspunsul."},
    "ask": {"en": "To do that I need {0}.", "ro": "Pentru asta am nevoie de {0}."},
    "and": {"en": "and", "ro": "și"},
}
_ASK_NAMES: Final[dict[str, dict[Language, str]]] = {
    "date": {"en": "the date", "ro": "data"},
    "time": {"en": "the time", "ro": "ora"},
    "datetime": {"en": "the date and time", "ro": "data și ora"},
    "phone": {"en": "your phone number", "ro": "numărul de telefon"},
    "person": {"en": "your name", "ro": "numele dumneavoastră"},
    "email": {"en": "your e-mail address", "ro": "adresa de e-mail"},
}
_GREET_WORDS: Final = frozenset(["hello", "hi", "hey", "hallo", "buna", "salut", "neata", "servus"])
_THANK_WORDS: Final = frozenset(["thanks", "thank", "multumesc", "mersi", "multumim"])
_BYE_WORDS: Final = frozenset(["bye", "goodbye", "revedere"])


def say_exactly(instructions: str | None) -> str | None:
    """The text in ``Say exactly: "..."``, if the instructions contain one."""
    if not instructions:
        return None
    found = _SAY_EXACTLY.search(instructions)
    if not found:
        return None
    return next(g for g in found.groups() if g)


def line(key: str, language: Language, *args: object) -> str:
    return _LINES[key][language].format(*args)


class Brain:
    """Decides replies; keeps only the scenarios' memory of steps already used."""

    def __init__(self, scenarios: ScenarioRunner | None = None) -> None:
        self.scenarios = scenarios or ScenarioRunner(())

    def decide(self, ctx: BrainInput) -> Reply:
        language = reply_language(ctx)
        exact = say_exactly(ctx.response_instructions)
        if exact is None and not any(t.role != "system" for t in ctx.turns):
            exact = say_exactly(ctx.instructions)
        if exact is not None:
            return Reply((Say(exact),), detect_language(exact) or language)
        matched = self.scenarios.match(_trigger(ctx.turns))
        if matched is not None and matched.step.decides_reply:
            outputs: list[Say | Call] = [Say(matched.say)] if matched.say else []
            outputs.extend(Call(c.name, c.arguments) for c in matched.calls)
            spoken_language = detect_language(matched.say) if matched.say else None
            return _with_hooks(Reply(tuple(outputs), spoken_language or language), matched)
        reply = Reply(answer(ctx, language), language)
        return _with_hooks(reply, matched) if matched is not None else reply


def _with_hooks(reply: Reply, matched: Matched) -> Reply:
    step = matched.step
    drop = Drop(step.drop, step.drop_reason, step.drop_after_ms) if step.drop is not None else None
    return Reply(reply.outputs, reply.language, step.delay_ms, matched.error, matched.fail, drop)


def reply_language(ctx: BrainInput) -> Language:
    """Romanian when the instructions or the caller's latest words are Romanian, else English."""
    user = next((t.text for t in reversed(ctx.turns) if t.role == "user" and t.text), "")
    spoken = detect_language(user) if user and not PLACEHOLDER.match(user) else None
    if "ro" in (spoken, instructions_language(ctx.instructions)):
        return "ro"
    return "en"


def _trigger(turns: Sequence[Turn]) -> Trigger:
    last = _last(turns)
    if last is None:
        return Trigger()
    if last.role == "user":
        return Trigger(user_text=last.text)
    if last.role == "tool_output":
        call = next((t for t in turns if t.role == "tool_call" and t.call_id == last.call_id), None)
        return Trigger(
            tool_name=call.name if call else None,
            tool_output=last.text,
            tool_arguments=call.arguments if call else None,
        )
    return Trigger()


def _last(turns: Sequence[Turn]) -> Turn | None:
    return next((t for t in reversed(turns) if t.role != "system"), None)


def answer(ctx: BrainInput, language: Language) -> tuple[Say | Call, ...]:
    last = _last(ctx.turns)
    if last is None:
        return (Say(line("greeting", language)),)
    if last.role == "tool_output":
        trailing: list[str] = []
        for turn in reversed(ctx.turns):
            if turn.role != "tool_output":
                break
            trailing.insert(0, describe_output(turn.text, language))
        follow = chained_call(ctx)
        if follow is None and _said_goodbye(ctx.turns):
            return (Say(line("bye", language)),)  # e.g. after end_call: one short goodbye
        return (Say(" ".join(trailing)),) if follow is None else (Say(" ".join(trailing)), follow)
    if last.role == "tool_call":
        return (Say(line("waiting", language)),)
    if last.role == "assistant":
        return (Say(line("anything_else", language)),)
    action = tool_action(ctx)
    if isinstance(action, Missing):
        return (Say(ask_for(action.names, action.properties, language)),)
    if action is not None:
        return (action,)
    return (Say(chat_reply(last.text, language)),)


def _said_goodbye(turns: Sequence[Turn]) -> bool:
    user = next((t.text for t in reversed(turns) if t.role == "user"), "")
    return bool(set(words(user)) & _BYE_WORDS) or "la revedere" in fold(user)


def chat_reply(text: str, language: Language) -> str:
    placeholder = PLACEHOLDER.match(text.strip())
    if placeholder:
        seconds = placeholder[1] if language == "en" else placeholder[1].replace(".", ",")
        return line("heard", language, seconds)
    if not text.strip():
        return line("unclear", language)
    tokens = set(words(text))
    if tokens & _BYE_WORDS or "la revedere" in fold(text):
        return line("bye", language)
    if tokens & _THANK_WORDS:
        return line("thanks", language)
    if tokens & _GREET_WORDS or re.search(r"\bgood (morning|afternoon|evening)\b", fold(text)):
        return line("greeting", language)
    return line("echo", language, text.strip())


def ask_for(missing: Sequence[str], properties: JSON, language: Language) -> str:
    names: list[str] = []
    for name in missing:
        prop = properties.get(name)
        kind = classify(name, prop if isinstance(prop, dict) else {})
        if kind in _ASK_NAMES:
            names.append(_ASK_NAMES[kind][language])
        else:
            names.append(humanize(name.removesuffix("_id")))
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {line('and', language)} {names[-1]}"
    return line("ask", language, listed)
