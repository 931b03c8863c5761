"""Scenario files: parsing, matching, templates; shipped scenarios; client secrets."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from voxgate.protocol.realtime import ProtocolError
from voxgate.simulator import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    shipped_scenario,
    shipped_scenario_names,
)
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.scenario import ScenarioRunner, Trigger, lookup, render
from voxgate.simulator.tokens import ClientSecrets, requested_secret


def test_shipped_scenarios_load() -> None:
    names = shipped_scenario_names()
    assert {"faults", "salon_call", "bar_call"} <= set(names)
    for name in names:
        assert shipped_scenario(name).name == name
    assert shipped_scenario("salon_call").transcripts
    with pytest.raises(ScenarioError):
        shipped_scenario("../etc/passwd")
    with pytest.raises(ScenarioError):
        shipped_scenario("missing")


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_bytes(orjson.dumps([{"when": "hi", "say": "Hello from the file."}]))
    scenario = load_scenario(path)
    assert scenario.name == "mine"
    assert scenario.steps[0].say == "Hello from the file."
    path.write_text("{oops")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": [{"say": "no trigger"}]}, "needs 'when' or 'after'"),
        ({"steps": [{"when": "x", "sya": "typo"}]}, "unknown keys"),
        ({"stpes": []}, "unknown keys"),
        ({"steps": [{"when": "x", "drop": 99}]}, "close code"),
        ({"steps": [{"when": "x", "call": "t", "arguments": [1]}]}, "'arguments' must be an object"),
        ({"steps": [{"when": "x", "error": "boom"}]}, "must be an object"),
        ("nope", "expected a list"),
    ],
)
def test_invalid_scenarios_say_why(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_matching_substring_regex_after_and_once() -> None:
    scenario = parse_scenario(
        [
            {"when": "Mâine", "say": "substring, accents ignored", "once": True},
            {"when": "^book (\\d+)", "say": "regex {{match.1}}"},
            {"when": "what?", "say": "not a valid regex? still a substring"},
            {"after": "get_menu", "when": "Mojito", "say": "menu with mojito: {{output.items[0].name}}"},
            {"after": "get_menu", "say": "any menu, {{arguments.category}}"},
        ]
    )
    runner = ScenarioRunner([scenario])

    def say(trigger: Trigger) -> str | None:
        matched = runner.match(trigger)
        return matched.say if matched else None

    assert say(Trigger(user_text="pot veni maine?")) == "substring, accents ignored"
    assert say(Trigger(user_text="pot veni maine?")) is None  # once
    assert say(Trigger(user_text="Book 4 seats")) == "regex 4"
    assert say(Trigger(user_text="so what?")) == "not a valid regex? still a substring"
    menu = orjson.dumps({"items": [{"name": "Mojito"}]}).decode()
    assert say(Trigger(tool_name="get_menu", tool_output=menu)) == "menu with mojito: Mojito"
    assert (
        say(Trigger(tool_name="get_menu", tool_output="[]", tool_arguments='{"category": "wine"}'))
        == "any menu, wine"
    )
    assert say(Trigger(tool_name="other", tool_output="[]")) is None


def test_templates_keep_types() -> None:
    context = {"output": {"slots": [{"id": 7, "time": "10:00"}], "ok": True}}
    assert render("{{output.slots[0].id}}", context) == 7
    assert render({"a": ["{{output.ok}}", "at {{output.slots[0].time}}"]}, context) == {
        "a": [True, "at 10:00"]
    }
    assert render("{{output.missing[3].x}}", context) is None
    assert lookup(context, "output.slots[5]") is None


def test_transcripts_are_heard_in_order() -> None:
    runner = ScenarioRunner(
        [parse_scenario({"transcripts": ["one", "two"]}), parse_scenario({"transcripts": ["three"]})]
    )
    assert [runner.next_transcript() for _ in range(4)] == ["one", "two", "three", None]


def test_client_secret_requests() -> None:
    ids = IdFactory(3)
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {"type": "realtime", "instructions": "Be kind.", "audio": {"output": {"voice": "cedar"}}},
    }
    secret = requested_secret(body, default_model="gpt-realtime", now=1000.0, ids=ids)
    assert secret.value.startswith("ek_")
    assert secret.expires_at == 1120
    shown = secret.response()
    assert shown["session"]["instructions"] == "Be kind."
    assert shown["session"]["audio"]["output"]["voice"] == "cedar"
    assert shown["session"]["object"] == "realtime.session"
    store = ClientSecrets()
    store.add(secret)
    assert store.lookup(secret.value, 1119.0) is secret
    assert store.lookup(secret.value, 1120.0) is None
    assert store.lookup(secret.value, 1000.0) is None  # expired secrets are forgotten
    assert requested_secret(None, default_model="gpt-realtime", now=0.0, ids=ids).expires_at == 600


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"expires_after": {"seconds": 5}}, "expires_after.seconds"),
        ({"expires_after": {"anchor": "now"}}, "expires_after.anchor"),
        ({"session": {"type": "realtime", "voice": "alloy"}}, "session.voice"),
        ({"session": {"type": "transcription"}}, "session.type"),
        (
            {"session": {"type": "realtime", "output_modalities": ["text", "audio"]}},
            "session.output_modalities",
        ),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_client_secret_requests(body: dict[str, object], param: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        requested_secret(body, default_model="gpt-realtime", now=0.0, ids=IdFactory(1))
    assert caught.value.param == param
