"""Phone numbers to E.164 with Google's libphonenumber rules (the ``phonenumbers`` package).

Callers and models write numbers every way: "0722 123 456", "+40 722-123-456", "0040722123456",
"(0722) 123.456". All of them are the same client, so the store keys clients on the E.164 form.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import phonenumbers

DEFAULT_REGION: Final = "RO"

# Letters would be read as a vanity number ("0800-FLOWERS"); from a caller they are a transcription slip.
_ALLOWED: Final = re.compile(r"^\+?[\d\s().\-/]+$")

Reason = Literal["empty", "bad_characters", "unparseable", "invalid"]


class InvalidPhoneNumber(ValueError):
    """The text is not a dialable phone number; ``message`` is fit to read to a caller or a model."""

    def __init__(self, raw: str, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.raw = raw
        self.reason: Reason = reason
        self.message = message


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form (``+40722123456``) of ``raw``; numbers without a country code are in ``region``."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber(raw, "empty", "No phone number was given.")
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(raw, "bad_characters", f"{raw!r} is not a phone number: use digits only.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(raw, "unparseable", f"{raw!r} is not a phone number ({exc}).") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            raw, "invalid", f"{raw!r} is not a valid phone number: a digit may be missing or extra."
        )
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def try_normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """:func:`normalize_phone`, or ``None`` for an invalid number."""
    try:
        return normalize_phone(raw, region)
    except InvalidPhoneNumber:
        return None
