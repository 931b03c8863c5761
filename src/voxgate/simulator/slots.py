"""Fill a function tool's arguments from its JSON schema and what was said and returned so far.

Each property is classified by its name, ``format``, type and ``enum`` (date, time, phone, person
name, e-mail, enum, id, number, free text) and looked for in the user's texts, newest first. Ids and
item names come from records in earlier tool outputs whose name the user mentioned (a
``service_id`` from the ``get_available_services`` entry called "Tuns", for example).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from voxgate.protocol.realtime import JSON
from voxgate.simulator.extract import (
    find_dates,
    find_emails,
    find_numbers,
    find_person_name,
    find_phones,
    find_times,
)
from voxgate.simulator.lang import stem, words

Kind = Literal[
    "date",
    "time",
    "datetime",
    "phone",
    "email",
    "person",
    "enum",
    "id",
    "digits",
    "number",
    "catalog",
    "free",
]

_PERSON_NAMES: Final = frozenset(
    {
        "name",
        "full_name",
        "customer_name",
        "client_name",
        "guest_name",
        "person",
        "nume",
        "first_name",
        "last_name",
        "contact_name",
        "caller_name",
    }
)
_FREE_TEXT: Final = frozenset(
    {
        "query",
        "text",
        "message",
        "note",
        "notes",
        "comment",
        "comments",
        "request",
        "question",
        "details",
        "description",
        "special_requests",
        "observatii",
    }
)
_RECORD_NAME_KEYS: Final = ("name", "title", "label", "nume", "denumire", "item", "service", "drink")


@dataclass(frozen=True, slots=True)
class Filled:
    arguments: JSON
    missing: tuple[str, ...]


def classify(name: str, schema: JSON) -> Kind:
    tokens = set(re.split(r"[_\W]+", name.lower()))
    fmt = schema.get("format")
    kind = schema.get("type")
    if schema.get("enum"):
        return "enum"
    if fmt == "date-time":
        return "datetime"
    if fmt == "date" or tokens & {"date", "day", "data", "zi", "ziua"}:
        return "date"
    if fmt == "time" or (tokens & {"time", "hour", "ora", "start"} and kind != "integer"):
        return "time"
    if tokens & {"phone", "telefon", "tel", "mobile"}:
        return "phone"
    if fmt == "email" or "email" in tokens:
        return "email"
    if name.lower() in _PERSON_NAMES:
        return "person"
    if name.lower().endswith("_id") or name.lower() == "id":
        return "id"
    if kind != "integer" and tokens & {"cnp", "number", "nr", "numar", "code", "pin", "digits"}:
        return "digits"
    if kind in ("integer", "number"):
        return "number"
    if name.lower() in _FREE_TEXT:
        return "free"
    return "catalog"


def fill_arguments(
    parameters: JSON | None,
    user_texts: Sequence[str],
    outputs: Sequence[Any],
    today: date,
) -> Filled:
    """Arguments for a tool with JSON schema ``parameters``; ``user_texts`` and ``outputs`` newest first."""
    schema = parameters if isinstance(parameters, dict) else {}
    properties = schema.get("properties") or {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    arguments: JSON = {}
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        resolved = _resolve(prop)
        if name not in required and classify(name, resolved) == "free":
            continue  # free text is a guess; only fill it when the tool cannot do without
        value = _value_for(name, resolved, user_texts, outputs, today)
        if value is not None:
            arguments[name] = value
    missing = tuple(r for r in required if r not in arguments)
    return Filled(arguments, missing)


def _resolve(prop: JSON) -> JSON:
    """Unwrap ``anyOf: [{...}, {"type": "null"}]`` as pydantic writes optional fields."""
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if isinstance(options, list):
            for option in options:
                if isinstance(option, dict) and option.get("type") != "null":
                    merged = {k: v for k, v in prop.items() if k != key}
                    merged.update(option)
                    return merged
    return prop


def _value_for(name: str, prop: JSON, texts: Sequence[str], outputs: Sequence[Any], today: date) -> Any:
    kind = classify(name, prop)
    for text in texts:
        value = _from_text(kind, name, prop, text, outputs, today)
        if value is not None:
            return _coerce(value, prop)
    return None


def _from_text(kind: Kind, name: str, prop: JSON, text: str, outputs: Sequence[Any], today: date) -> Any:
    if kind == "date":
        dates = find_dates(text, today)
        return dates[0].value if dates else None
    if kind == "time":
        times = find_times(text)
        return times[0].value if times else None
    if kind == "datetime":
        dates, times = find_dates(text, today), find_times(text)
        return f"{dates[0].value}T{times[0].value}:00" if dates and times else None
    if kind == "phone":
        phones = find_phones(text)
        return phones[0].value if phones else None
    if kind == "email":
        emails = find_emails(text)
        return emails[0].value if emails else None
    if kind == "person":
        return find_person_name(text)
    if kind == "enum":
        return _enum_value(prop.get("enum") or [], text)
    if kind == "id":
        return _catalog_value(name, text, outputs, want_id=True)
    if kind == "digits":
        runs = sorted(re.findall(r"\d[\d ]{2,}\d", text), key=len, reverse=True)
        return runs[0].replace(" ", "") if runs else None
    if kind == "number":
        taken = [*find_dates(text, today), *find_times(text), *find_phones(text)]
        numbers = find_numbers(text, exclude=taken)
        return numbers[0] if numbers else None
    if kind == "free":
        return text.strip() or None
    return _catalog_value(name, text, outputs, want_id=False)


def _enum_value(values: Sequence[Any], text: str) -> Any:
    folded = f" {' '.join(words(text))} "
    text_stems = {stem(w) for w in words(text) if len(w) >= 3}
    best: tuple[int, Any] | None = None
    for value in values:
        phrase = " ".join(words(str(value).replace("_", " ")))
        if phrase and f" {phrase} " in folded:
            score = 100 + len(phrase)
        else:
            value_stems = {stem(w) for w in phrase.split() if len(w) >= 3}
            score = len(value_stems & text_stems) if value_stems and value_stems <= text_stems else 0
        if score and (best is None or score > best[0]):
            best = (score, value)
    return best[1] if best else None


def records_in(data: Any) -> Iterator[JSON]:
    """Every object with a name-like field, anywhere inside ``data``."""
    if isinstance(data, dict):
        if any(isinstance(data.get(k), str) for k in _RECORD_NAME_KEYS):
            yield data
        for value in data.values():
            yield from records_in(value)
    elif isinstance(data, list):
        for value in data:
            yield from records_in(value)


def _record_name(record: JSON) -> str:
    return next(str(record[k]) for k in _RECORD_NAME_KEYS if isinstance(record.get(k), str))


def _mention_score(record_name: str, text: str) -> int:
    phrase = " ".join(words(record_name))
    said = f" {' '.join(words(text))} "
    if phrase and f" {phrase} " in said:
        return 100 + len(phrase)
    name_stems = {stem(w) for w in words(record_name) if len(w) >= 3}
    text_stems = {stem(w) for w in words(text) if len(w) >= 3}
    return 10 * len(name_stems & text_stems) if name_stems and name_stems <= text_stems else 0


def _catalog_value(name: str, text: str, outputs: Sequence[Any], *, want_id: bool) -> Any:
    best: tuple[int, JSON] | None = None
    for output in outputs:
        for record in records_in(output):
            score = _mention_score(_record_name(record), text)
            if score and (best is None or score > best[0]):
                best = (score, record)
        if best:
            break  # the newest output that mentions it wins
    if best is None:
        return None
    record = best[1]
    if not want_id:
        return _record_name(record)
    if name in record:
        return record[name]
    return record.get("id")


def _coerce(value: Any, prop: JSON) -> Any:
    """The value in the schema's type where it converts cleanly; else as found."""
    kind = prop.get("type")
    try:
        if kind == "integer" and isinstance(value, float | str):
            return int(float(value))
        if kind == "number" and isinstance(value, str):
            return float(value)
    except ValueError:
        return value
    if kind == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "string" and not isinstance(value, str):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value
