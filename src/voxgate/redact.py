"""Masking personal data (``VOXGATE_REDACT``): phone numbers, Romanian ID numbers (CNP), e-mail addresses.

Applied to what is kept: stored transcripts, the text fields of stored event payloads, tool-call
arguments and results, the live view, and log lines. Pure functions; the patterns prefer masking a
harmless number now and then over letting a real one through.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Final

EMAIL_MASK: Final = "[email]"
CNP_MASK: Final = "[id-number]"
PHONE_MASK: Final = "[phone]"

_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A CNP is 13 digits starting 1-9; spoken transcripts may group them ("1 850 101 ...").
_CNP: Final = re.compile(r"(?<![\w+])[1-9](?:[ .-]?\d){12}(?!\w)")
# 9 to 15 digits, optionally after + or 00, in groups split by single spaces, dots, dashes or brackets.
_PHONE: Final = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d(?:[ .()-]{0,2}\d){8,14}(?![\w:])")

TEXT_FIELDS: Final = frozenset(
    {"text", "transcript", "delta", "arguments", "output", "instructions", "value", "message"}
)
"""Payload keys whose string values are free text a person (or the model) wrote."""

_DIGIT_OR_AT: Final = re.compile(r"[\d@]")


def redact_text(text: str) -> str:
    """``text`` with e-mails, CNPs and phone numbers masked."""
    if not _DIGIT_OR_AT.search(text):  # the common case, and much cheaper than three patterns
        return text
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _CNP.sub(CNP_MASK, text)
    return _PHONE.sub(PHONE_MASK, text)


def redact_value(value: Any) -> Any:
    """Every string inside ``value`` masked (tool arguments and results); a new structure."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    return value


def redact_payload(payload: Any, fields: Iterable[str] = TEXT_FIELDS) -> Any:
    """An event payload with the free-text fields masked; ids and other keys are kept as they are.

    Returns new dicts and lists along the way, so that the caller's event (still being relayed) is
    never changed.
    """
    keys = fields if isinstance(fields, frozenset) else frozenset(fields)
    return _walk(payload, keys)


def _walk(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: redact_value(item) if key in keys and isinstance(item, str) else _walk(item, keys)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_walk(item, keys) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Masks the formatted message of every log record passing a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = redact_value(fields)
        return True


def install_log_redaction(loggers: Iterable[str] = ("", "uvicorn", "uvicorn.error")) -> RedactingFilter:
    """Add the filter to the handlers of ``loggers`` (the root logger first); idempotent."""
    found = RedactingFilter()
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
            if existing:
                found = existing[0]
            else:
                handler.addFilter(found)
    return found
