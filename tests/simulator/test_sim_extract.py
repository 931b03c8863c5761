"""Finding dates, times, phone numbers, names and numbers in what callers say; filling arguments."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.simulator.client_items import heard_words
from voxgate.simulator.extract import find_dates, find_numbers, find_person_name, find_phones, find_times
from voxgate.simulator.items import Words
from voxgate.simulator.lang import detect_language, stem
from voxgate.simulator.planner import split_arguments, split_words
from voxgate.simulator.slots import fill_arguments

TODAY = date(2025, 6, 15)  # a Sunday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2025-06-15"),
        ("azi la 5", "2025-06-15"),
        ("tomorrow at 10", "2025-06-16"),
        ("mâine dimineață", "2025-06-16"),
        ("Maine", "2025-06-16"),
        ("poimâine", "2025-06-17"),
        ("the day after tomorrow", "2025-06-17"),
        ("on Friday", "2025-06-20"),
        ("vineri la ora 15", "2025-06-20"),
        ("next Sunday", "2025-06-22"),
        ("sâmbătă", "2025-06-21"),
        ("on 2025-07-01", "2025-07-01"),
        ("14 martie", "2026-03-14"),
        ("July 4th", "2025-07-04"),
        ("on the 3rd of August", "2025-08-03"),
        ("20/06", "2025-06-20"),
        ("20.06.2025", "2025-06-20"),
        ("in 3 days", "2025-06-18"),
        ("peste 2 zile", "2025-06-17"),
    ],
)
def test_dates(text: str, expected: str) -> None:
    assert [f.value for f in find_dates(text, TODAY)][:1] == [expected]


def test_no_dates_in_plain_talk() -> None:
    assert find_dates("I would like a drink at 10.30", TODAY) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 10", "10:00"),
        ("la 10", "10:00"),
        ("la ora 15:30", "15:30"),
        ("10:30", "10:30"),
        ("at 3 pm", "15:00"),
        ("3pm", "15:00"),
        ("12 am", "00:00"),
        ("at 7 in the evening", "19:00"),
        ("la 5 după-amiază", "17:00"),
        ("la ora 9.30", "09:30"),
        ("around noon", "12:00"),
        ("16h45", "16:45"),
    ],
)
def test_times(text: str, expected: str) -> None:
    assert [f.value for f in find_times(text)][:1] == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my number is 0722 123 456", "0722123456"),
        ("call +40 722-123-456", "+40722123456"),
        ("0040 722 123 456", "+40722123456"),
    ],
)
def test_phones(text: str, expected: str) -> None:
    assert [f.value for f in find_phones(text)] == [expected]


def test_dates_and_short_numbers_are_not_phones() -> None:
    assert find_phones("on 2025-06-16 at 10") == []
    assert find_phones("two beers for 4 people") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My name is John Smith and my phone is 0722", "John Smith"),
        ("my name is maria", "Maria"),
        ("Mă numesc Ana Popescu, telefonul meu este 0722 123 456.", "Ana Popescu"),
        ("Bună, sunt Ioana.", "Ioana"),
        ("Numele meu e Radu Ionescu", "Radu Ionescu"),
        ("I am hungry", None),
        ("This is Dan calling", "Dan"),
    ],
)
def test_person_names(text: str, expected: str | None) -> None:
    assert find_person_name(text) == expected


def test_numbers_skip_times_and_phones() -> None:
    text = "two beers at 10:30, my phone is 0722 123 456"
    taken = [*find_times(text), *find_phones(text)]
    assert find_numbers(text, exclude=taken) == [2.0]
    assert find_numbers("pentru 4 persoane") == [4.0]


def test_language_and_stems() -> None:
    assert detect_language("Bună ziua, aș vrea o programare") == "ro"
    assert detect_language("vreau meniul va rog") == "ro"
    assert detect_language("What is on the menu?") == "en"
    assert detect_language("ok") is None
    assert stem("Meniul") == stem("menu") == "menu"
    assert stem("programare") == stem("appointment") == "book"
    assert stem("programul") == "hour"
    assert stem("serviciile") == stem("services") == stem("service")
    assert stem("băuturi") == stem("drinks")
    assert stem("disponibil") == stem("availability") == stem("available")


def test_fill_arguments_from_schema_and_earlier_outputs() -> None:
    schema = {
        "type": "object",
        "properties": {
            "service_id": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "start_time": {"type": "string"},
            "customer_name": {"type": "string"},
            "phone_number": {"type": "string"},
            "party_size": {"type": "integer"},
            "kind": {"type": "string", "enum": ["indoor", "outdoor_terrace"]},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["service_id", "date", "start_time", "customer_name", "phone_number"],
    }
    outputs = [{"services": [{"id": 3, "name": "Tuns"}, {"id": "v5", "name": "Vopsit scurt"}]}]
    texts = [
        "Mă numesc Ana Pop, telefon 0722 123 456",
        "vopsit scurt mâine la 10 pentru 2 persoane, outdoor terrace",
    ]
    filled = fill_arguments(schema, texts, outputs, TODAY)
    assert filled.missing == ()
    assert filled.arguments == {
        "service_id": "v5",
        "date": "2025-06-16",
        "start_time": "10:00",
        "customer_name": "Ana Pop",
        "phone_number": "0722123456",
        "party_size": 2,
        "kind": "outdoor_terrace",
        "when": "2025-06-16T10:00:00",
    }
    assert fill_arguments(schema, ["hello"], [], TODAY).missing == (
        "service_id",
        "date",
        "start_time",
        "customer_name",
        "phone_number",
    )


@given(st.text(max_size=200))
def test_split_words_keeps_the_text(text: str) -> None:
    chunks = split_words(text)
    assert "".join(chunks) == text.strip()
    assert all(chunks)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=8))
def test_split_arguments_keeps_the_text(arguments: str, pieces: int) -> None:
    parts = split_arguments(arguments, pieces)
    assert "".join(parts) == arguments
    assert len(parts) <= max(1, pieces)


@given(st.lists(st.text(alphabet="abc ", min_size=1, max_size=12), min_size=1, max_size=8), st.floats(0, 1))
def test_heard_words_is_a_prefix_of_the_transcript(chunks: list[str], fraction: float) -> None:
    spans, at = [], 0.0
    for text in chunks:
        spans.append(Words(text, at, at + 100.0))
        at += 100.0
    heard = heard_words(spans, fraction * at)
    full = "".join(chunks)
    assert full.startswith(heard) or " ".join(full.split()).startswith(" ".join(heard.split()))
    assert heard_words(spans, at) == full.strip()
