"""The brain: exact lines, tool choice and arguments, answers about tool results, language."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest

from voxgate.simulator.brain import Brain, BrainInput, Call, Say, Turn, say_exactly
from voxgate.simulator.describe import describe_output
from voxgate.simulator.lang import Language
from voxgate.simulator.scenario import ScenarioRunner, parse_scenario

TODAY = date(2025, 6, 15)  # a Sunday

SALON_INSTRUCTIONS = "Ești recepționera salonului Bella. Vorbești doar românește, politicos și pe scurt."
SALON_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_available_services",
        "description": "Lista serviciilor salonului, cu preț și durată.",
        "parameters": {"type": "object", "properties": {}},
    },
    {
        "type": "function",
        "name": "check_appointment_availability",
        "description": "Verifică dacă un serviciu se poate programa la data și ora cerute.",
        "parameters": {
            "type": "object",
            "properties": {
                "service_id": {"type": "integer", "description": "Id-ul serviciului."},
                "date": {"type": "string", "format": "date"},
                "time": {"type": "string", "description": "Ora, HH:MM."},
            },
            "required": ["service_id", "date", "time"],
        },
    },
    {
        "type": "function",
        "name": "find_existing_client",
        "description": "Caută un client după numărul de telefon.",
        "parameters": {"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]},
    },
    {
        "type": "function",
        "name": "create_voice_appointment",
        "description": "Creează programarea.",
        "parameters": {
            "type": "object",
            "properties": {
                "client_name": {"type": "string"},
                "phone": {"type": "string"},
                "service_id": {"type": "integer"},
                "date": {"type": "string", "format": "date"},
                "time": {"type": "string"},
                "notes": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            },
            "required": ["client_name", "phone", "service_id", "date", "time"],
        },
    },
]
BAR_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "get_menu",
        "description": "List the drinks and snacks on the menu with their prices in lei.",
        "parameters": {
            "type": "object",
            "properties": {
                "category": {
                    "anyOf": [{"enum": ["cocktail", "beer", "wine"], "type": "string"}, {"type": "null"}]
                }
            },
        },
    },
    {
        "type": "function",
        "name": "check_id",
        "description": "Verify a guest's national ID number (CNP) to confirm they are an adult.",
        "parameters": {"type": "object", "properties": {"cnp": {"type": "string"}}, "required": ["cnp"]},
    },
    {
        "type": "function",
        "name": "place_order",
        "description": "Place an order for drinks.",
        "parameters": {
            "type": "object",
            "properties": {"item_name": {"type": "string"}, "quantity": {"type": "integer"}},
            "required": ["item_name", "quantity"],
        },
    },
]
MENU = {"currency": "RON", "items": [{"name": "Mojito", "price": 32.0}, {"name": "Negroni", "price": 36.0}]}
SERVICES = {"services": [{"id": 3, "name": "Tuns", "price": 80}, {"id": 5, "name": "Vopsit", "price": 200}]}


class Dialogue:
    """A conversation driven through the brain, as the engine would: turns in, reply out."""

    def __init__(
        self, tools: list[dict[str, Any]], instructions: str = "", brain: Brain | None = None
    ) -> None:
        self.brain = brain or Brain()
        self.tools = tools
        self.instructions = instructions
        self.turns: list[Turn] = []
        self.calls = 0

    def decide(self, **kwargs: Any) -> tuple[Say | Call, ...]:
        ctx = BrainInput(self.turns, self.instructions, self.tools, today=TODAY, **kwargs)
        reply = self.brain.decide(ctx)
        for output in reply.outputs:
            if isinstance(output, Say):
                self.turns.append(Turn("assistant", output.text))
            else:
                self.calls += 1
                self.turns.append(Turn("tool_call", name=output.name, call_id=f"c{self.calls}",
                                       arguments=orjson.dumps(output.arguments).decode()))  # fmt: skip
        return reply.outputs

    def user(self, text: str) -> tuple[Say | Call, ...]:
        self.turns.append(Turn("user", text))
        return self.decide()

    def output(self, result: Any) -> tuple[Say | Call, ...]:
        self.turns.append(Turn("tool_output", orjson.dumps(result).decode(), call_id=f"c{self.calls}"))
        return self.decide()


def calls(outputs: tuple[Say | Call, ...]) -> list[Call]:
    return [o for o in outputs if isinstance(o, Call)]


def spoken(outputs: tuple[Say | Call, ...]) -> str:
    return " ".join(o.text for o in outputs if isinstance(o, Say))


def test_say_exactly() -> None:
    assert (
        say_exactly('Greet them. Say exactly: "Hi, welcome to the Blue Note!"')
        == "Hi, welcome to the Blue Note!"
    )
    assert say_exactly("Spune exact: „Bună ziua, salonul Bella.”") == "Bună ziua, salonul Bella."
    assert say_exactly("Say exactly: 'I'm here'") == "I"  # single quotes end at the first apostrophe
    assert say_exactly("Say something nice.") is None


def test_exact_lines_for_responses_and_the_first_greeting() -> None:
    dialogue = Dialogue([], 'You are a bar. Say exactly: "Welcome to the Blue Note!"')
    assert spoken(dialogue.decide()) == "Welcome to the Blue Note!"
    assert spoken(dialogue.decide(response_instructions='Say exactly: "Last orders!"')) == "Last orders!"
    dialogue.turns.append(Turn("user", "hello"))
    assert spoken(dialogue.decide()) == "Hello! How can I help you today?"


def test_bar_flow_in_english() -> None:
    bar = Dialogue(BAR_TOOLS, "You are the bartender. Speak English.")
    (call,) = calls(bar.user("Hi, what's on the menu?"))
    assert call == Call("get_menu", {})
    answer = spoken(bar.output(MENU))
    assert answer == "Here is what I found: Mojito, 32 lei; Negroni, 36 lei."
    (call,) = calls(bar.user("Two Negroni please"))
    assert call == Call("place_order", {"item_name": "Negroni", "quantity": 2})
    confirmation = spoken(bar.output({"order_id": 17, "total": 72}))
    assert confirmation == "All set, it is confirmed: order id 17, total 72."
    assert calls(bar.user("Only cocktails on the menu please")) == [
        Call("get_menu", {"category": "cocktail"})
    ]


def test_missing_arguments_are_asked_for() -> None:
    bar = Dialogue(BAR_TOOLS)
    assert spoken(bar.user("Can you check my ID?")) == "To do that I need cnp."
    (call,) = calls(bar.user("Sure, it is 1960101123456"))
    assert call == Call("check_id", {"cnp": "1960101123456"})
    salon = Dialogue(SALON_TOOLS, SALON_INSTRUCTIONS)
    salon.user("Ce servicii aveți?")
    salon.output(SERVICES)
    assert spoken(salon.user("Vreau o programare pentru tuns")) == "Pentru asta am nevoie de data și ora."


def test_salon_booking_in_romanian() -> None:
    salon = Dialogue(SALON_TOOLS, SALON_INSTRUCTIONS)
    (call,) = calls(salon.user("Bună ziua, ce servicii aveți?"))
    assert call == Call("get_available_services", {})
    assert spoken(salon.output(SERVICES)) == "Iată ce am găsit: Tuns, 80 lei; Vopsit, 200 lei."
    (call,) = calls(salon.user("Aș vrea o programare pentru tuns mâine la ora 10."))
    assert call == Call(
        "check_appointment_availability", {"service_id": 3, "date": "2025-06-16", "time": "10:00"}
    )
    answer = salon.output({"available": True, "date": "2025-06-16", "time": "10:00"})
    assert spoken(answer) == "Vești bune, este disponibil: data 2025-06-16, ora 10:00."
    assert calls(answer) == []
    outputs = salon.user("Mă numesc Ana Popescu, telefonul meu este 0722 123 456.")
    booked = calls(outputs) or calls(salon.output({"found": False}))
    assert booked[0].name == "create_voice_appointment"
    assert booked[0].arguments == {
        "client_name": "Ana Popescu",
        "phone": "0722123456",
        "service_id": 3,
        "date": "2025-06-16",
        "time": "10:00",
    }
    done = spoken(salon.output({"success": True, "appointment_id": 41}))
    assert done == "Gata, am confirmat: reușit da, numărul programării 41."
    assert spoken(salon.user("Mulțumesc, la revedere!")) == "La revedere, o zi bună!"


def test_tool_errors_are_read_out() -> None:
    bar = Dialogue(BAR_TOOLS)
    bar.user("menu please")
    assert spoken(bar.output({"error": "The menu is not available right now"})) == (
        "Sorry, that did not work: The menu is not available right now."
    )
    bar.user("menu again")
    assert spoken(bar.output({"error": {"code": "db_down", "message": "database unavailable"}})) == (
        "Sorry, that did not work: database unavailable."
    )


def test_tool_choice() -> None:
    def first_calls(text: str, choice: Any) -> list[Call]:
        dialogue = Dialogue(BAR_TOOLS)
        dialogue.turns.append(Turn("user", text))
        return calls(dialogue.decide(tool_choice=choice))

    assert first_calls("What's on the menu?", "none") == []
    assert first_calls("hmm", {"type": "function", "name": "get_menu"}) == [Call("get_menu", {})]
    assert first_calls("hmm", "required") == [Call("get_menu", {})]
    assert first_calls("hmm", "auto") == []


@pytest.mark.parametrize(
    ("text", "instructions", "expected"),
    [
        ("Bună ziua!", "", "Bună ziua! Cu ce vă pot ajuta?"),
        ("hello", SALON_INSTRUCTIONS, "Bună ziua! Cu ce vă pot ajuta?"),
        ("hello", "You are friendly.", "Hello! How can I help you today?"),
        ("Thanks a lot", "", "You're welcome! Anything else?"),
        ("The weather is nice", "", 'You said: "The weather is nice". How can I help further?'),
        ("[speech 1.4 s]", "", "I heard you speak for 1.4 seconds. How can I help?"),
        ("[speech 1.4 s]", "Answer in Romanian.", "V-am auzit vorbind 1,4 secunde. Cu ce vă pot ajuta?"),
    ],
)
def test_chat_replies_mirror_the_language(text: str, instructions: str, expected: str) -> None:
    dialogue = Dialogue([], instructions)
    assert spoken(dialogue.user(text)) == expected


def test_scenario_steps_come_before_the_brain() -> None:
    scenario = parse_scenario(
        [
            {"when": "menu", "call": "get_menu", "arguments": {"category": "wine"}},
            {"after": "get_menu", "say": "Try the {{output.items[1].name}}!"},
            {"when": "order (?P<n>\\d+) (?P<what>\\w+)", "call": "place_order",
             "arguments": {"item_name": "{{match.what}}", "quantity": "{{match.n}}"}},
            {"when": "slowly", "delay_ms": 300},
        ]
    )  # fmt: skip
    bar = Dialogue(BAR_TOOLS, brain=Brain(ScenarioRunner([scenario])))
    assert calls(bar.user("the menu?")) == [Call("get_menu", {"category": "wine"})]
    assert spoken(bar.output(MENU)) == "Try the Negroni!"
    assert calls(bar.user("order 3 Mojito")) == [
        Call("place_order", {"item_name": "Mojito", "quantity": "3"})
    ]
    ctx = BrainInput([Turn("user", "hello, slowly")], "", BAR_TOOLS, today=TODAY)
    reply = Brain(ScenarioRunner([scenario])).decide(ctx)
    assert reply.delay_ms == 300
    assert spoken(reply.outputs) == "Hello! How can I help you today?"


PHONE_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "end_call",
        "description": (
            "End the phone call. Use it when the caller has said goodbye. "
            "After calling it, say one short goodbye sentence."
        ),
        "parameters": {
            "type": "object",
            "properties": {"reason": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        },
    },
    {
        "type": "function",
        "name": "transfer_to_human",
        "description": "Transfer the caller to a human colleague. Use it when the caller asks for a person, "
        "or for something you cannot do. Tell the caller in one short sentence.",
        "parameters": {"type": "object", "properties": {}},
    },
]


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("Thanks, goodbye!", "end_call"),
        ("La revedere", "end_call"),
        ("Can I talk to a person?", "transfer_to_human"),
        ("Vreau să vorbesc cu un operator", "transfer_to_human"),
        ("Tell me something about the wine", "get_menu"),
        ("What drinks do you have?", "get_menu"),
        ("Ce băuturi aveți?", "get_menu"),
        ("I am calling about the weather", None),
        ("Please end the call", "end_call"),
    ],
)
def test_long_tool_descriptions_do_not_swamp_the_choice(text: str, tool: str | None) -> None:
    dialogue = Dialogue([*BAR_TOOLS[:1], *PHONE_TOOLS])
    found = calls(dialogue.user(text))
    assert [c.name for c in found] == ([tool] if tool else [])


def test_a_goodbye_after_the_last_tool_is_a_goodbye() -> None:
    dialogue = Dialogue(PHONE_TOOLS)
    assert calls(dialogue.user("ok, bye")) == [Call("end_call", {})]
    assert spoken(dialogue.output({"ok": True})) == "Goodbye, have a nice day!"


def test_lookup_before_booking_then_chain() -> None:
    salon = Dialogue(SALON_TOOLS, SALON_INSTRUCTIONS)
    (lookup,) = calls(salon.user("Aș vrea o programare pentru tuns mâine la ora 10, vă rog."))
    assert lookup == Call("get_available_services", {})
    outputs = salon.output(SERVICES)
    assert spoken(outputs) == "Iată ce am găsit: Tuns, 80 lei; Vopsit, 200 lei."
    assert calls(outputs) == [
        Call("check_appointment_availability", {"service_id": 3, "date": "2025-06-16", "time": "10:00"})
    ]
    answer = salon.output({"available": True})
    assert calls(answer) == []  # nothing more asked for: no further chaining


def test_no_lookup_after_the_booking() -> None:
    salon = Dialogue(SALON_TOOLS, SALON_INSTRUCTIONS)
    salon.user("Ce servicii aveți?")
    salon.output(SERVICES)
    salon.user("Tuns mâine la 10")
    salon.output({"available": True})
    (booking,) = calls(salon.user("Mă numesc Ana Popescu, telefonul meu este 0722 123 456."))
    assert booking.name == "create_voice_appointment"
    assert calls(salon.output({"success": True, "appointment_id": 41})) == []


UNAVAILABLE = '{"available": false, "alternatives": ["11:00"]}'
NOT_BOOKED = '{"booked": false, "reason": "closed"}'
SOLD_OUT = '{"items": [{"name": "Almonds", "price": 12.5, "available": false}]}'


@pytest.mark.parametrize(
    ("output", "language", "expected"),
    [
        ('{"slots": ["10:00", "10:30"]}', "en", "Here is what I found: 10:00; 10:30."),
        ("[]", "ro", "Nu am găsit nimic."),
        (UNAVAILABLE, "en", "Sorry, that is not available. Here is what I found: 11:00."),
        ('{"available": true}', "ro", "Vești bune, este disponibil."),
        (NOT_BOOKED, "en", "That was not possible: booked no, reason closed."),
        (SOLD_OUT, "ro", "Iată ce am găsit: Almonds, 12.5 lei (indisponibil)."),
        ("plain words", "en", "plain words"),
        ("null", "en", "Done."),
    ],
)
def test_describing_tool_results(output: str, language: Language, expected: str) -> None:
    assert describe_output(output, language) == expected
