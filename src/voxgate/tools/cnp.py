"""Romanian personal numeric code (CNP) validation, for the bartender's age check.

Layout ``S YY MM DD JJ NNN C``:

- ``S``   sex and century: 1/2 born 1900-1999, 3/4 1800-1899, 5/6 2000-2099; 7/8 foreign residents
          and 9 foreigners (the same layout as a tax number, NIF), both without a century;
- ``YY MM DD`` the birth date; ``JJ`` the county or Bucharest sector of registration;
- ``NNN`` a serial 001-999; ``C`` the check digit: the first twelve digits weighted by 279146358279,
  summed, modulo 11, with 10 written as 1.

For the digits without a century the birth year is read as the most recent one that is not in the
future. Between two readings (2010 or 1910) that picks the younger person, the safe side for an age
check.

The result never holds the birth date: the age and the adult flag are all a tool needs, and a
birth date has no business in a model's context or a call log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

WEIGHTS: Final = (2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9)
ADULT_AGE: Final = 18

_CENTURY: Final = {"1": 1900, "2": 1900, "3": 1800, "4": 1800, "5": 2000, "6": 2000}
_NO_CENTURY: Final = frozenset("789")
# 01-40 counties (alphabetical, 40 = Bucharest), 41-46 Bucharest sectors 1-6, 47 the former sector 7,
# 51 Călărași, 52 Giurgiu, 70 numbers assigned by the civil-status system (SIIEASC), 80-83 registrations at
# Romanian consular offices abroad. The population registry confirms that no others are issued.
COUNTY_CODES: Final = frozenset({*range(1, 48), 51, 52, 70, 80, 81, 82, 83})
_SEPARATORS: Final = str.maketrans("", "", " -./\t")

Reason = Literal[
    "empty",
    "not_digits",
    "wrong_length",
    "bad_sex_digit",
    "bad_birth_date",
    "future_birth_date",
    "bad_county",
    "bad_serial",
    "bad_check_digit",
]

REASON_TEXT: Final[dict[Reason, str]] = {
    "empty": "No number was given.",
    "not_digits": "A CNP contains digits only.",
    "wrong_length": "A CNP has exactly 13 digits.",
    "bad_sex_digit": "The first digit of a CNP is 1 to 9.",
    "bad_birth_date": "Digits 2-7 are not a real birth date.",
    "future_birth_date": "The birth date encoded in it is in the future.",
    "bad_county": "Digits 8-9 are not a county code.",
    "bad_serial": "Digits 10-12 cannot be 000.",
    "bad_check_digit": "The check digit does not match; a digit was probably misheard.",
}


@dataclass(frozen=True, slots=True)
class CnpCheck:
    """The outcome of :func:`check_cnp`. ``reason`` is ``None`` exactly when ``valid``."""

    valid: bool
    reason: Reason | None = None
    adult: bool = False
    age: int | None = None

    def as_dict(self) -> dict[str, object]:
        """For a tool output: validity, age and adulthood, and a readable reason when invalid."""
        out: dict[str, object] = {"valid": self.valid, "adult": self.adult, "age": self.age}
        if self.reason is not None:
            out["reason"] = self.reason
            out["message"] = REASON_TEXT[self.reason]
        return out


def check_digit(first12: str) -> int:
    """The check digit for the first twelve digits of a CNP."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError("expected twelve digits")
    remainder = sum(int(d) * w for d, w in zip(first12, WEIGHTS, strict=True)) % 11
    return 1 if remainder == 10 else remainder


def age_on(birth: date, today: date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March in common years."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _birth_date(sex: str, yy: int, mm: int, dd: int, today: date) -> date | None:
    """The birth date, or ``None`` when the digits are not a real date (for the century they imply)."""
    if sex in _CENTURY:
        try:
            return date(_CENTURY[sex] + yy, mm, dd)
        except ValueError:
            return None
    # No century: the latest reading that is not after today.
    for century in (2000, 1900, 1800):
        try:
            candidate = date(century + yy, mm, dd)
        except ValueError:
            continue  # 29 February exists in some centuries only (1900 was a common year)
        if candidate <= today:
            return candidate
    return None


def check_cnp(cnp: str, today: date) -> CnpCheck:
    """Validate a CNP and say whether its holder is an adult on ``today`` (spaces and dashes allowed)."""
    digits = cnp.translate(_SEPARATORS)
    if not digits:
        return CnpCheck(False, "empty")
    if not digits.isascii() or not digits.isdigit():
        return CnpCheck(False, "not_digits")
    if len(digits) != 13:
        return CnpCheck(False, "wrong_length")
    sex = digits[0]
    if sex not in _CENTURY and sex not in _NO_CENTURY:
        return CnpCheck(False, "bad_sex_digit")
    birth = _birth_date(sex, int(digits[1:3]), int(digits[3:5]), int(digits[5:7]), today)
    if birth is None:
        return CnpCheck(False, "bad_birth_date")
    if birth > today:
        return CnpCheck(False, "future_birth_date")
    if int(digits[7:9]) not in COUNTY_CODES:
        return CnpCheck(False, "bad_county")
    if digits[9:12] == "000":
        return CnpCheck(False, "bad_serial")
    if check_digit(digits[:12]) != int(digits[12]):
        return CnpCheck(False, "bad_check_digit")
    age = age_on(birth, today)
    return CnpCheck(True, None, adult=age >= ADULT_AGE, age=age)
