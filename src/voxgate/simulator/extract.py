"""Find typed values in what a caller said: dates, times, phone numbers, names, numbers, e-mails.

English and Romanian phrasings; dates come out as ISO ``YYYY-MM-DD`` relative to ``today``, times as
``HH:MM``. Each finder returns what it found with the character span it used, so a later finder can
ignore text an earlier one already explained (a phone number is not a quantity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from voxgate.simulator.lang import fold, word_set


@dataclass(frozen=True, slots=True)
class Found:
    value: str
    start: int
    end: int


_MONTHS: Final[dict[str, int]] = {
    "january": 1, "jan": 1, "ianuarie": 1, "ian": 1,
    "february": 2, "feb": 2, "februarie": 2,
    "march": 3, "mar": 3, "martie": 3,
    "april": 4, "apr": 4, "aprilie": 4,
    "may": 5, "mai": 5,
    "june": 6, "jun": 6, "iunie": 6,
    "july": 7, "jul": 7, "iulie": 7,
    "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "septembrie": 9,
    "october": 10, "oct": 10, "octombrie": 10,
    "november": 11, "nov": 11, "noiembrie": 11,
    "december": 12, "dec": 12, "decembrie": 12,
}  # fmt: skip
_WEEKDAYS: Final[dict[str, int]] = {
    "monday": 0, "luni": 0,
    "tuesday": 1, "marti": 1,
    "wednesday": 2, "miercuri": 2,
    "thursday": 3, "joi": 3,
    "friday": 4, "vineri": 4,
    "saturday": 5, "sambata": 5,
    "sunday": 6, "duminica": 6,
}  # fmt: skip
_RELATIVE: Final[dict[str, int]] = {
    "today": 0, "tonight": 0, "azi": 0, "astazi": 0, "asta seara": 0, "diseara": 0,
    "tomorrow": 1, "maine": 1,
    "day after tomorrow": 2, "poimaine": 2,
}  # fmt: skip
_NUMBER_WORDS: Final[dict[str, int]] = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "unu": 1, "una": 1, "doi": 2, "doua": 2, "trei": 3, "patru": 4, "cinci": 5, "sase": 6,
    "sapte": 7, "opt": 8, "noua": 9, "zece": 10, "unsprezece": 11, "doisprezece": 12,
}  # fmt: skip

_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH_NAMES})\b")
_MONTH_DAY = re.compile(rf"\b({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")
_IN_DAYS = re.compile(r"\b(?:in|peste)\s+(\d{1,2})\s+(?:days?|zile)\b")
_RELATIVE_RE = re.compile(r"\b(" + "|".join(sorted(_RELATIVE, key=len, reverse=True)) + r")\b")
_WEEKDAY_RE = re.compile(r"\b(next\s+|this\s+)?(" + "|".join(_WEEKDAYS) + r")\b")

_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:h]([0-5]\d)\b(?:\s*(am|pm|a\.m\.|p\.m\.))?")
_AT_HOUR = re.compile(
    r"\b(?:at|la|ora|orele|around|pe la|in jur de)\s+(?:ora\s+)?([01]?\d|2[0-3])(?:[.:h]([0-5]\d))?"
    r"(?:\s*(am|pm|a\.m\.|p\.m\.|o'clock))?\b"
)
_AMPM = re.compile(r"\b(1[0-2]|0?\d)\s*(am|pm|a\.m\.|p\.m\.)(?=\W|$)")
_NOON = re.compile(r"\b(noon|midday|pranz|amiaza)\b")
_AFTERNOON = re.compile(r"\b(afternoon|evening|tonight|seara|dupa[- ]amiaza|dupa[- ]masa)\b")

_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d\s().-]{5,}\d(?!\w)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)(?![\w])")
_NAME_LEAD = re.compile(
    r"(?:\bmy name is|\bmy name's|\bname is|\bcall me|\bthis is|\bunder the name(?: of)?|\bi am|\bi'm"
    r"|\bma numesc|\bnumele meu este|\bnumele meu e|\bpe numele(?: de)?|\beu sunt|\bsunt)\s+",
)
_NAME_STOP: Final = word_set(
    "and si my phone number telefon la at for pentru from de din i want vreau would please va rog "
    "the a an calling interested looking here trying"
)


def _next_date(today: date, month: int, day: int, year: int | None) -> date | None:
    try:
        if year is not None:
            return date(year if year > 99 else 2000 + year, month, day)
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def find_dates(text: str, today: date) -> list[Found]:
    """Dates mentioned in ``text``, in order of appearance."""
    folded = fold(text)
    found: list[Found] = []
    for m in _ISO_DATE.finditer(folded):
        d = _next_date(today, int(m[2]), int(m[3]), int(m[1]))
        if d:
            found.append(Found(d.isoformat(), m.start(), m.end()))
    for m in _NUMERIC_DATE.finditer(folded):
        if m[3] is None and "/" not in m[0]:
            continue  # "10.30" is a time, not the 10th of an impossible month
        d = _next_date(today, int(m[2]), int(m[1]), int(m[3]) if m[3] else None)
        if d:
            found.append(Found(d.isoformat(), m.start(), m.end()))
    for m in _DAY_MONTH.finditer(folded):
        d = _next_date(today, _MONTHS[m[2]], int(m[1]), None)
        if d:
            found.append(Found(d.isoformat(), m.start(), m.end()))
    for m in _MONTH_DAY.finditer(folded):
        if m[1] == "mai":
            continue  # Romanian puts the day first; "mai 2" is "two more"
        d = _next_date(today, _MONTHS[m[1]], int(m[2]), None)
        if d:
            found.append(Found(d.isoformat(), m.start(), m.end()))
    for m in _IN_DAYS.finditer(folded):
        found.append(Found((today + timedelta(days=int(m[1]))).isoformat(), m.start(), m.end()))
    for m in _RELATIVE_RE.finditer(folded):
        found.append(Found((today + timedelta(days=_RELATIVE[m[1]])).isoformat(), m.start(), m.end()))
    for m in _WEEKDAY_RE.finditer(folded):
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7 or 7
        if m[1] and m[1].strip() == "this" and _WEEKDAYS[m[2]] == today.weekday():
            ahead = 0
        found.append(Found((today + timedelta(days=ahead)).isoformat(), m.start(), m.end()))
    return _non_overlapping(found)


def _hour(hour: int, minute: int, suffix: str | None, afternoon: bool) -> str:
    marker = (suffix or "").replace(".", "")
    if marker == "pm" and hour < 12:
        hour += 12
    elif marker == "am" and hour == 12:
        hour = 0
    elif not marker and afternoon and 1 <= hour < 12:
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def find_times(text: str) -> list[Found]:
    """Clock times mentioned in ``text`` as ``HH:MM``."""
    folded = fold(text)
    afternoon = bool(_AFTERNOON.search(folded))
    found: list[Found] = []
    for m in _CLOCK.finditer(folded):
        found.append(Found(_hour(int(m[1]), int(m[2]), m[3], afternoon), m.start(), m.end()))
    for m in _AT_HOUR.finditer(folded):
        suffix = m[3] if m[3] != "o'clock" else None
        found.append(Found(_hour(int(m[1]), int(m[2] or 0), suffix, afternoon), m.start(), m.end()))
    for m in _AMPM.finditer(folded):
        found.append(Found(_hour(int(m[1]), 0, m[2], afternoon), m.start(), m.end()))
    for m in _NOON.finditer(folded):
        found.append(Found("12:00", m.start(), m.end()))
    return _non_overlapping(found)


def find_phones(text: str) -> list[Found]:
    """Phone numbers (7 to 15 digits, optional leading ``+``), digits only."""
    found: list[Found] = []
    for m in _PHONE.finditer(text):
        raw = m[0]
        digits = re.sub(r"\D", "", raw)
        if not 7 <= len(digits) <= 15:
            continue
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", raw.strip()):
            continue
        prefix = "+" if raw.startswith("+") else ""
        if raw.startswith("00"):
            prefix, digits = "+", digits[2:]
        found.append(Found(prefix + digits, m.start(), m.end()))
    return found


def find_emails(text: str) -> list[Found]:
    return [Found(m[0], m.start(), m.end()) for m in _EMAIL.finditer(text)]


def find_person_name(text: str) -> str | None:
    """The name after "my name is", "mă numesc", "this is", ... (up to three words)."""
    folded = fold(text)
    for m in _NAME_LEAD.finditer(folded):
        original = text[m.end() :]
        tokens = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", original[:80])
        picked: list[str] = []
        for token in tokens:
            if fold(token) in _NAME_STOP or len(picked) == 3:
                break
            picked.append(token)
            after = original[original.find(token) + len(token) :][:1]
            if after in {",", ".", "!", "?", ";"}:
                break
        lead = m.group(0).strip()
        if lead in ("sunt", "i am", "i'm", "this is", "eu sunt") and not (picked and picked[0][:1].isupper()):
            continue  # "I am hungry" is not a name; a capitalised word after "I am" probably is
        if any(p[:1].isupper() for p in picked):
            picked = [p for p in picked if p[:1].isupper()]
        if picked:
            return " ".join(p[:1].upper() + p[1:] for p in picked)
    return None


def find_numbers(text: str, *, exclude: list[Found] | None = None) -> list[float]:
    """Numbers (digits or small number words) outside the spans in ``exclude``."""
    folded = fold(text)
    taken = [(f.start, f.end) for f in exclude or []]

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    found: list[tuple[int, float]] = []
    for m in _NUMBER.finditer(folded):
        if free(m.start(), m.end()):
            found.append((m.start(), float(m[1].replace(",", "."))))
    for m in re.finditer(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", folded):
        if free(m.start(), m.end()):
            found.append((m.start(), float(_NUMBER_WORDS[m[1]])))
    return [value for _, value in sorted(found)]


def _non_overlapping(found: list[Found]) -> list[Found]:
    """Longest matches first, then in order of appearance; drop those overlapping a kept one."""
    kept: list[Found] = []
    for item in sorted(found, key=lambda f: (-(f.end - f.start), f.start)):
        if all(item.end <= k.start or item.start >= k.end for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f.start)
