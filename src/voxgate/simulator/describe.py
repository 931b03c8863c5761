"""Say what a tool result contains, in a sentence or two, in English or Romanian.

A list of records is read as "name, price" pairs; a confirmation as its fields; an ``error`` field
as an apology that quotes it; plain text as it is.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from voxgate.simulator.lang import Language, humanize

NAME_KEYS: Final = ("name", "title", "label", "nume", "denumire", "item", "service", "drink", "slot", "time")
PRICE_KEYS: Final = ("price", "cost", "amount", "pret", "price_lei", "total")
MAX_LISTED: Final = 8

_TEXT: Final[dict[str, dict[Language, str]]] = {
    "error": {"en": "Sorry, that did not work: {0}.", "ro": "Îmi pare rău, nu a mers: {0}."},
    "empty": {"en": "I found nothing for that.", "ro": "Nu am găsit nimic."},
    "list": {"en": "Here is what I found: {0}.", "ro": "Iată ce am găsit: {0}."},
    "more": {"en": "and {0} more", "ro": "și încă {0}"},
    "confirmed": {"en": "All set, it is confirmed: {0}.", "ro": "Gata, am confirmat: {0}."},
    "failed": {"en": "That was not possible: {0}.", "ro": "Nu a fost posibil: {0}."},
    "result": {"en": "Here is the result: {0}.", "ro": "Iată rezultatul: {0}."},
    "available": {"en": "Good news, that is available: {0}.", "ro": "Vești bune, este disponibil: {0}."},
    "available_plain": {"en": "Good news, that is available.", "ro": "Vești bune, este disponibil."},
    "not_available_plain": {"en": "Sorry, that is not available.", "ro": "Îmi pare rău, nu este disponibil."},
    "not_available": {
        "en": "Sorry, that is not available: {0}.",
        "ro": "Îmi pare rău, nu este disponibil: {0}.",
    },
    "done": {"en": "Done.", "ro": "Gata."},
    "yes": {"en": "yes", "ro": "da"},
    "no": {"en": "no", "ro": "nu"},
    "unavailable": {"en": "not available", "ro": "indisponibil"},
}

_RO_KEYS: Final[dict[str, str]] = {
    "date": "data",
    "time": "ora",
    "start time": "ora",
    "price": "preț",
    "name": "nume",
    "client name": "numele clientului",
    "customer name": "numele clientului",
    "phone": "telefon",
    "service": "serviciul",
    "duration minutes": "durata în minute",
    "appointment id": "numărul programării",
    "booking id": "numărul rezervării",
    "order id": "numărul comenzii",
    "success": "reușit",
    "found": "găsit",
    "quantity": "cantitate",
    "message": "mesaj",
    "status": "stare",
}
_CONFIRM_KEYS: Final = frozenset(
    {"success", "ok", "booked", "confirmed", "created", "placed", "status", "confirmation", "order_id",
     "appointment_id", "booking_id", "reservation_id"}
)  # fmt: skip
_FLAG_KEYS: Final = ("success", "ok", "booked", "confirmed", "created", "placed")
_FAILURE_WORDS: Final = frozenset({"false", "failed", "rejected", "unavailable", "error", "denied"})


def text(key: str, language: Language, *args: object) -> str:
    return _TEXT[key][language].format(*args)


def describe_output(output: str, language: Language) -> str:
    """One or two sentences saying what ``output`` (a tool's result, usually JSON) contains."""
    try:
        data = orjson.loads(output)
    except orjson.JSONDecodeError:
        stripped = output.strip()
        return stripped if stripped else text("done", language)
    return describe_value(data, language)


def describe_value(data: Any, language: Language) -> str:
    if isinstance(data, dict):
        error = data.get("error")
        if error:
            message = error.get("message") or error.get("code") if isinstance(error, dict) else error
            return text("error", language, _scalar(message, language))
        records = _records(data)
        scalars = {k: v for k, v in data.items() if k not in ("currency", "moneda") and not _nested(v)}
        if records is not None and not scalars:
            return _describe_list(records, _currency(data), language)
        sentence = _describe_object(data, language)
        if records is not None:
            sentence += " " + _describe_list(records, _currency(data), language)
        return sentence
    if isinstance(data, list):
        return _describe_list(data, None, language)
    if data is None:
        return text("done", language)
    return text("result", language, _scalar(data, language))


def _records(data: dict[str, Any]) -> list[Any] | None:
    """The list a result is about: ``{"items": [...]}``, ``{"services": [...]}``, ``{"slots": [...]}``."""
    for value in data.values():
        if isinstance(value, list):
            return value
    return None


def _nested(value: Any) -> bool:
    return isinstance(value, dict | list) or value is None


def _currency(data: dict[str, Any]) -> str | None:
    value = data.get("currency") or data.get("moneda")
    return str(value) if isinstance(value, str) else None


def _describe_list(values: list[Any], currency: str | None, language: Language) -> str:
    if not values:
        return text("empty", language)
    phrases = [_record_phrase(v, currency, language) for v in values[:MAX_LISTED]]
    if len(values) > MAX_LISTED:
        phrases.append(text("more", language, len(values) - MAX_LISTED))
    return text("list", language, "; ".join(p for p in phrases if p))


def _record_phrase(value: Any, currency: str | None, language: Language) -> str:
    if not isinstance(value, dict):
        return _scalar(value, language)
    name = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str | int | float)), None)
    if name is None:
        return _pairs(value, language, limit=3)
    phrase = str(name)
    price = next((value[k] for k in PRICE_KEYS if isinstance(value.get(k), int | float)), None)
    if price is not None:
        unit = value.get("currency") if isinstance(value.get("currency"), str) else currency
        phrase += f", {_number(price)} {_money(unit, language)}"
    if value.get("available") is False:
        phrase += f" ({text('unavailable', language)})"
    return phrase


def _money(unit: str | None, language: Language) -> str:
    if unit is None or unit.upper() in ("RON", "LEI"):
        return "lei"
    return unit


def _describe_object(data: dict[str, Any], language: Language) -> str:
    pairs = _pairs(data, language, limit=8)
    if not pairs:
        return text("done", language)
    keys = {k.lower() for k in data}
    if "available" in keys and not keys & _CONFIRM_KEYS:
        rest = _pairs({k: v for k, v in data.items() if k != "available"}, language, limit=8)
        key = "available" if data["available"] else "not_available"
        return text(key, language, rest) if rest else text(f"{key}_plain", language)
    if keys & _CONFIRM_KEYS:
        flags = [data[k] for k in _FLAG_KEYS if k in data]
        status = str(data.get("status", "")).lower()
        if any(f is False for f in flags) or status in _FAILURE_WORDS:
            return text("failed", language, pairs)
        return text("confirmed", language, pairs)
    return text("result", language, pairs)


def _pairs(data: dict[str, Any], language: Language, *, limit: int) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if _nested(value):
            continue
        parts.append(f"{_key_name(key, language)} {_scalar(value, language)}")
        if len(parts) == limit:
            break
    return ", ".join(parts)


def _key_name(key: str, language: Language) -> str:
    name = humanize(key)
    return _RO_KEYS.get(name, name) if language == "ro" else name


def _scalar(value: Any, language: Language) -> str:
    if value is True:
        return text("yes", language)
    if value is False:
        return text("no", language)
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")
