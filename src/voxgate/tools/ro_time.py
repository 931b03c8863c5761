"""What Romanian (and English) callers say about days and times, as dates and times.

Pure: the current moment is passed in (``now``), read in Europe/Bucharest. Each parser looks for its
expression anywhere in the text, so a whole phrase ("mâine la zece și jumătate") works as well as the
bare fragment a model passes in a tool argument.

Dates: "azi", "mâine", "poimâine", "răspoimâine"; weekdays ("luni" ... "duminică", "joia") as the next
such day after today; "lunea viitoare", "next monday": that weekday in the following calendar week;
"peste 3 zile", "in 2 weeks"; "pe 5 martie", "5 martie 2026", "march 5th"; "pe 5" (the next 5th); "5.03",
"5/3", "05.03.2026" (day first); ISO "2026-03-05". Without a year, the next such date from today on.

Times: "10:30", "10.30", "10h30", "la 10", "la ora 10", "zece și jumătate", "zece și un sfert",
"unsprezece fără un sfert", "zece și douăzeci", "după-amiază la 3", "seara la 7", "3 pm",
"half past ten", "quarter to eleven", "noon". A spoken hour from 1 to 7 with no part of day ("la 3")
is read as the afternoon: nobody books a haircut at 3 a.m. Clock notation ("3:30") is taken as written.

Results are :class:`Parsed`: a value, or ``None`` with a reason code (``empty``, ``not_understood``,
``invalid_date``, ``invalid_time``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

BUCHAREST: Final = ZoneInfo("Europe/Bucharest")

T = TypeVar("T")
Reason = Literal["empty", "not_understood", "invalid_date", "invalid_time"]


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    value: T | None
    reason: Reason | None = None
    span: tuple[int, int] | None = None
    """Where in the normalised text the expression was found (lets a caller mask it)."""

    @property
    def ok(self) -> bool:
        return self.value is not None


def _fail(reason: Reason) -> Parsed[T]:
    return Parsed(None, reason)


# -- clock helpers ------------------------------------------------------------------------------------
def local_today(now: datetime, tz: ZoneInfo = BUCHAREST) -> date:
    """Today's date in ``tz``; a naive ``now`` is taken as already local."""
    return (now.astimezone(tz) if now.tzinfo is not None else now).date()


def local_datetime(day: date, at: time, tz: ZoneInfo = BUCHAREST) -> datetime:
    """An aware datetime for a wall-clock time in ``tz``.

    A time skipped by the spring DST change (03:30 on the last Sunday of March) moves forward by the gap
    (04:30), like ``dateutil.tz.resolve_imaginary``; a repeated one (autumn) is its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


# -- normalisation ------------------------------------------------------------------------------------
_UNITS: Final = {
    "zero": 0,
    "unu": 1,
    "una": 1,
    "intai": 1,
    "doi": 2,
    "doua": 2,
    "trei": 3,
    "patru": 4,
    "cinci": 5,
    "sase": 6,
    "sapte": 7,
    "opt": 8,
    "noua": 9,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS: Final = {
    "zece": 10,
    "unsprezece": 11,
    "unspe": 11,
    "doisprezece": 12,
    "douasprezece": 12,
    "doispe": 12,
    "douaspe": 12,
    "treisprezece": 13,
    "treispe": 13,
    "paisprezece": 14,
    "patrusprezece": 14,
    "paispe": 14,
    "cincisprezece": 15,
    "cinsprezece": 15,
    "cinspe": 15,
    "saisprezece": 16,
    "saispe": 16,
    "saptesprezece": 17,
    "saptespe": 17,
    "optsprezece": 18,
    "optspe": 18,
    "nouasprezece": 19,
    "nouaspe": 19,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS: Final = {
    "douazeci": 20,
    "treizeci": 30,
    "patruzeci": 40,
    "cincizeci": 50,
    "cinzeci": 50,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
}
_ENGLISH: Final = frozenset({"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"})


def _strip_accents(text: str) -> str:
    # NFKD splits ă â î ș ş ț ţ into a base letter and a combining mark; dropping the marks covers both
    # the comma-below and the legacy cedilla spellings of ș and ț.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _numbers_to_digits(words: list[str]) -> Iterator[str]:
    """Number words to digits: "douazeci si cinci" -> "25", "twenty five" -> "25", "zece" -> "10"."""
    i = 0
    while i < len(words):
        word = words[i]
        if word in _TENS:
            value = _TENS[word]
            nxt = words[i + 1] if i + 1 < len(words) else ""
            after = words[i + 2] if i + 2 < len(words) else ""
            if nxt == "si" and after in _UNITS and after not in _ENGLISH and _UNITS[after] > 0:
                yield str(value + _UNITS[after])
                i += 3
                continue
            if nxt in _ENGLISH:
                yield str(value + _UNITS[nxt])
                i += 2
                continue
            yield str(value)
        elif word in _TEENS:
            yield str(_TEENS[word])
        elif word in _UNITS:
            yield str(_UNITS[word])
        else:
            yield word
        i += 1


def normalize(text: str) -> str:
    """Lower case, no diacritics, number words as digits, punctuation reduced to what dates and times use."""
    s = _strip_accents(text).lower()
    s = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", s)  # a.m. / p.m.
    s = s.replace("o'clock", " oclock").replace("'", "")
    s = re.sub(r"(\d)t(\d)", r"\1 \2", s)  # ISO 8601 date-time separator
    s = re.sub(r"(\d)(am|pm|oclock)\b", r"\1 \2", s)
    s = re.sub(r"(\d)h\b", r"\1", s)  # "la 10h"
    s = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", s)  # English ordinals
    s = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", s)  # dupa-amiaza, twenty-five
    s = re.sub(r"[.](?!\d)|(?<!\d)[.]", " ", s)  # sentence dots; keep 10.30 and 5.03
    s = re.sub(r"[,;!?\"()\[\]]", " ", s)
    return " ".join(_numbers_to_digits(s.split()))


# -- dates --------------------------------------------------------------------------------------------
_MONTHS: Final = {
    **dict.fromkeys(("ianuarie", "ian", "january", "jan"), 1),
    **dict.fromkeys(("februarie", "feb", "february"), 2),
    **dict.fromkeys(("martie", "mar", "march"), 3),
    **dict.fromkeys(("aprilie", "apr", "april"), 4),
    **dict.fromkeys(("mai", "may"), 5),
    **dict.fromkeys(("iunie", "iun", "june", "jun"), 6),
    **dict.fromkeys(("iulie", "iul", "july", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("septembrie", "sept", "sep", "september"), 9),
    **dict.fromkeys(("octombrie", "oct", "october"), 10),
    **dict.fromkeys(("noiembrie", "noi", "nov", "november"), 11),
    **dict.fromkeys(("decembrie", "dec", "december"), 12),
}
_ENGLISH_MONTH_NAMES: Final = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
# English month names only: "mai 5" would be Romanian for "5 more", not the fifth of May.
_ENGLISH_MONTHS: Final = frozenset(_ENGLISH_MONTH_NAMES.split())
_WEEKDAYS: Final = {
    **dict.fromkeys(("luni", "lunea", "monday"), 0),
    **dict.fromkeys(("marti", "martea", "tuesday"), 1),
    **dict.fromkeys(("miercuri", "miercurea", "wednesday"), 2),
    **dict.fromkeys(("joi", "joia", "thursday"), 3),
    **dict.fromkeys(("vineri", "vinerea", "friday"), 4),
    **dict.fromkeys(("sambata", "saturday"), 5),
    **dict.fromkeys(("duminica", "sunday"), 6),
}
_RELATIVE: Final = {
    "the day after tomorrow": 2,
    "day after tomorrow": 2,
    "raspoimaine": 3,
    "poimaine": 2,
    "maine": 1,
    "tomorrow": 1,
    "astazi": 0,
    "azi": 0,
    "today": 0,
    "diseara": 0,
    "deseara": 0,
    "tonight": 0,
}


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first, so that "poimaine" is not read as "maine"."""
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_MONTH_RE: Final = _alternation(_MONTHS)
_ENGLISH_MONTH_RE: Final = _alternation(_ENGLISH_MONTHS)
_WEEKDAY_RE: Final = _alternation(_WEEKDAYS)

_ISO_DATE: Final = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY: Final = re.compile(r"(?<![\d./-])(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})(?![\d./-]*\d)")
_DM: Final = re.compile(r"(?<![\d./:])(\d{1,2})[./](\d{1,2})(?![\d./:]*\d)")
_RELATIVE_RE: Final = re.compile(rf"\b(?:{_alternation(_RELATIVE)})\b")
_IN_DAYS: Final = re.compile(
    r"\b(?:peste|in)\s+(\d{1,3}|o|un|a|one)\s+(zi|zile|days?|saptamana|saptamani|weeks?)\b"
)
_DAY_MONTH: Final = re.compile(rf"\b(\d{{1,2}})\s+(?:of\s+|de\s+)?({_MONTH_RE})\b(?:\s+(\d{{4}}))?")
_MONTH_DAY: Final = re.compile(rf"\b({_ENGLISH_MONTH_RE})\s+(\d{{1,2}})\b(?:\s+(\d{{4}}))?")
_WEEKDAY: Final = re.compile(
    # "peste 2 luni" is "in two months", not a Monday.
    rf"\b(?:(next|this|on)\s+)?(?<!\d )({_WEEKDAY_RE})\b"
    r"(?:\s+(viitoare|viitor|urmatoare|urmator|asta|aceasta))?"
)
_NEXT_WEEK: Final = re.compile(r"\b(?:saptamana\s+(?:viitoare|urmatoare)|next\s+week)\b")
_DAY_OF_MONTH: Final = re.compile(r"\b(?:pe|on\s+the|the)\s+(\d{1,2})\b(?!\s*[:.]\d)")
_TIME_PREFIX: Final = re.compile(r"\b(?:la|ora|at|around)\s*$")


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    return 2000 + value if len(text) == 2 else value


def _calendar(day: int, month: int, year: int | None, today: date) -> Parsed[date]:
    """A day and month, with the year given or the next such date from ``today`` on."""
    if year is not None:
        try:
            return Parsed(date(year, month, day))
        except ValueError:
            return _fail("invalid_date")
    for candidate_year in (today.year, today.year + 1):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return Parsed(candidate)
    return _fail("invalid_date")


def _next_day_of_month(day: int, today: date) -> Parsed[date]:
    """ "pe 5": the next 5th from today on (skipping months without that day, e.g. a 31st)."""
    if not 1 <= day <= 31:
        return _fail("invalid_date")
    year, month = today.year, today.month
    for _ in range(3):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return Parsed(candidate)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return _fail("invalid_date")


def _weekday(match: re.Match[str], text: str, today: date) -> date:
    weekday = _WEEKDAYS[match.group(2)]
    next_week = (
        match.group(1) == "next"
        or match.group(3) in {"viitoare", "viitor", "urmatoare", "urmator"}
        or _NEXT_WEEK.search(text) is not None
    )
    if next_week:
        # That weekday in the following Monday-to-Sunday week.
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday + timedelta(days=weekday)
    ahead = (weekday - today.weekday()) % 7 or 7  # "luni" said on a Monday means the next one
    return today + timedelta(days=ahead)


def _find_date(text: str, today: date) -> Parsed[date]:
    def found(result: Parsed[date], match: re.Match[str]) -> Parsed[date]:
        return Parsed(result.value, result.reason, match.span())

    if match := _ISO_DATE.search(text):
        year, month, day = (int(g) for g in match.groups())
        return found(_calendar(day, month, year, today), match)
    if match := _DMY.search(text):
        return found(_calendar(int(match.group(1)), int(match.group(2)), _year(match.group(3)), today), match)
    if match := _RELATIVE_RE.search(text):
        return found(Parsed(today + timedelta(days=_RELATIVE[match.group(0)])), match)
    if match := _IN_DAYS.search(text):
        count = 1 if match.group(1) in {"o", "un", "a", "one"} else int(match.group(1))
        days = count * 7 if match.group(2).startswith(("sapt", "week")) else count
        return found(Parsed(today + timedelta(days=days)), match)
    if match := _DAY_MONTH.search(text):
        day, month = int(match.group(1)), _MONTHS[match.group(2)]
        return found(_calendar(day, month, _year(match.group(3)), today), match)
    if match := _MONTH_DAY.search(text):
        day, month = int(match.group(2)), _MONTHS[match.group(1)]
        return found(_calendar(day, month, _year(match.group(3)), today), match)
    for match in _DM.finditer(text):
        if _TIME_PREFIX.search(text, 0, match.start()):
            continue  # "la 10.30" is a time
        return found(_calendar(int(match.group(1)), int(match.group(2)), None, today), match)
    if match := _WEEKDAY.search(text):
        return found(Parsed(_weekday(match, text, today)), match)
    if match := _DAY_OF_MONTH.search(text):
        return found(_next_day_of_month(int(match.group(1)), today), match)
    return _fail("not_understood")


def parse_date(text: str, now: datetime, tz: ZoneInfo = BUCHAREST) -> Parsed[date]:
    """The date ``text`` speaks of, relative to ``now`` (read in ``tz``)."""
    normal = normalize(text)
    if not normal:
        return _fail("empty")
    return _find_date(normal, local_today(now, tz))


# -- times --------------------------------------------------------------------------------------------
_PM: Final = re.compile(
    r"\d\s*pm\b|\bdupa\s+(?:amiaza|masa|pranz)\b|\b(?:de\s+)?seara\b|\bdiseara\b|\bdeseara\b"
    r"|\bafternoon\b|\bevening\b|\btonight\b"
)
_AM: Final = re.compile(r"\d\s*am\b|\bdimineata\b|\bmorning\b")

_RANGE: Final = re.compile(r"\b(?:intre|between)\s+(?:ora\s+)?(\d{1,2})\s+(?:si|and)\s+(\d{1,2})\b")
_CLOCK: Final = re.compile(r"\b(\d{1,2})\s*(?::|h)\s*(\d{2})(?::\d{2}(?:\.\d+)?)?\b")
_CLOCK_DOT: Final = re.compile(r"\b(\d{1,2})\.(\d{2})\b")
_PAST: Final = re.compile(
    r"\b(?P<hour>\d{1,2})\s+si\s+(?:(?P<half>jumatate)|(?P<three_quarters>3\s+sferturi)|(?P<quarter>(?:un\s+)?sfert)"
    r"|(?P<minute>\d{1,2})(?:\s+de)?(?:\s+minute|\s+min)?)\b"
)
_TO: Final = re.compile(
    r"\b(\d{1,2})\s+fara\s+(?:un\s+sfert|sfert|(\d{1,2})(?:\s+de)?(?:\s+minute|\s+min)?)\b"
)
_ENGLISH_PAST: Final = re.compile(
    r"\b(?:(half)|(?:a\s+)?(quarter)|(\d{1,2})(?:\s+minutes?)?)\s+(past|to)\s+(\d{1,2})\b"
)
_HOUR_MINUTE: Final = re.compile(r"\b(\d{1,2})\s+(\d{2})\b")
_PREFIXED_HOUR: Final = re.compile(
    r"\b(?:la\s+ora|pe\s+la\s+ora|pe\s+la|in\s+jur\s+de|ora|la|at|around|about)\s+(\d{1,2})\b(?!\s*[./]\d)"
)
_QUALIFIED_HOUR: Final = re.compile(
    r"\b(\d{1,2})\s+(?:am|pm|oclock|fix|dupa\s+amiaza|dupa\s+masa|dupa\s+pranz|seara|dimineata"
    r"|in\s+the\s+(?:morning|afternoon|evening))\b"
)
_ONLY_HOUR: Final = re.compile(r"^\s*(\d{1,2})\s*$")
_NOON: Final = re.compile(r"\b(?:(?<!dupa\s)(?:la\s+)?(?:pranz|amiaza)|noon|midday|amiaza\s+mare)\b")
_MIDNIGHT: Final = re.compile(r"\b(?:midnight|miezul\s+noptii)\b")


@dataclass(frozen=True, slots=True)
class _Hit:
    hour: int
    minute: int
    spoken: bool  # a spoken hour ("la 3") gets the daytime reading; clock notation ("3:30") does not
    span: tuple[int, int]
    to_hour: bool = False  # "fara": minutes before ``hour``


def _find_time_hit(text: str, allow_dot: bool) -> _Hit | None:
    if match := _RANGE.search(text):
        return _Hit(int(match.group(1)), 0, True, match.span())
    if match := _CLOCK.search(text):
        return _Hit(int(match.group(1)), int(match.group(2)), False, match.span())
    for match in _CLOCK_DOT.finditer(text):
        if allow_dot or _TIME_PREFIX.search(text, 0, match.start()):
            return _Hit(int(match.group(1)), int(match.group(2)), False, match.span())
    if match := _PAST.search(text):
        g = match.groupdict()
        minutes = 30 if g["half"] else 45 if g["three_quarters"] else 15 if g["quarter"] else int(g["minute"])
        return _Hit(int(g["hour"]), minutes, True, match.span())
    if match := _TO.search(text):
        minutes = 15 if match.group(2) is None else int(match.group(2))
        return _Hit(int(match.group(1)), minutes, True, match.span(), to_hour=True)
    if match := _ENGLISH_PAST.search(text):
        half, quarter, number, direction, hour = match.groups()
        minutes = 30 if half else 15 if quarter else int(number)
        return _Hit(int(hour), minutes, True, match.span(), to_hour=direction == "to")
    if match := _HOUR_MINUTE.search(text):
        return _Hit(int(match.group(1)), int(match.group(2)), True, match.span())
    for pattern in (_PREFIXED_HOUR, _QUALIFIED_HOUR, _ONLY_HOUR):
        if match := pattern.search(text):
            return _Hit(int(match.group(1)), 0, True, match.span())
    if match := _NOON.search(text):
        return _Hit(12, 0, False, match.span())
    if match := _MIDNIGHT.search(text):
        return _Hit(0, 0, False, match.span())
    return None


def _resolve(hit: _Hit, text: str, assume_daytime: bool) -> Parsed[time]:
    hour, minute = hit.hour, hit.minute
    if hour > 24 or minute > 59:
        return _fail("invalid_time")
    pm, am = _PM.search(text) is not None, _AM.search(text) is not None
    if pm and 1 <= hour < 12:
        hour += 12
    elif am and hour == 12:
        hour = 0
    elif hit.spoken and assume_daytime and not am and 1 <= hour <= 7:
        hour += 12
    if hit.to_hour:
        if minute == 0:
            return _fail("invalid_time")
        hour, minute = (hour - 1) % 24, 60 - minute
    if hour == 24:
        return _fail("invalid_time")
    return Parsed(time(hour, minute), span=hit.span)


def _find_time(text: str, *, assume_daytime: bool, allow_dot: bool) -> Parsed[time]:
    hit = _find_time_hit(text, allow_dot)
    if hit is None:
        return _fail("not_understood")
    return _resolve(hit, text, assume_daytime)


def parse_time(text: str, *, assume_daytime: bool = True) -> Parsed[time]:
    """The time of day ``text`` speaks of. ``assume_daytime``: a spoken 1-7 o'clock means p.m."""
    normal = normalize(text)
    if not normal:
        return _fail("empty")
    return _find_time(normal, assume_daytime=assume_daytime, allow_dot=True)


@dataclass(frozen=True, slots=True)
class DateTime:
    """What :func:`parse_date_time` found; each part may be missing on its own."""

    date: Parsed[date]
    time: Parsed[time]

    def at(self, tz: ZoneInfo = BUCHAREST) -> datetime | None:
        """The aware moment when both parts were found."""
        if self.date.value is None or self.time.value is None:
            return None
        return local_datetime(self.date.value, self.time.value, tz)


def parse_date_time(
    text: str, now: datetime, *, assume_daytime: bool = True, tz: ZoneInfo = BUCHAREST
) -> DateTime:
    """Both parts of "mâine la 10", "pe 5 martie la ora 14:30", "next monday at half past three".

    The time is found first and masked, so its digits are not read again as a date; "10.30" counts as
    a time only after "la"/"ora"/"at" here (alone, "5.03" is the fifth of March).
    """
    normal = normalize(text)
    if not normal:
        return DateTime(_fail("empty"), _fail("empty"))
    when = _find_time(normal, assume_daytime=assume_daytime, allow_dot=False)
    rest = normal
    if when.span is not None:
        start, end = when.span
        rest = normal[:start] + " " * (end - start) + normal[end:]
    return DateTime(_find_date(rest, local_today(now, tz)), when)
