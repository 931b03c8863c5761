"""Phone numbers to E.164, Romania by default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.tools.phones import InvalidPhoneNumber, normalize_phone, try_normalize_phone


@pytest.mark.parametrize(
    "written",
    [
        "0722 123 456",
        "0722123456",
        "0722-123-456",
        "(0722) 123.456",
        "0722/123/456",
        "+40 722 123 456",
        "+40722123456",
        "0040 722 123 456",
        "  0722 123 456  ",
    ],
)
def test_romanian_mobile_in_every_spelling(written: str) -> None:
    assert normalize_phone(written) == "+40722123456"


def test_landlines_and_other_regions() -> None:
    assert normalize_phone("021 312 3456") == "+40213123456"  # Bucharest landline
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"  # a country code wins over the region
    assert normalize_phone("(202) 555-0142", region="US") == "+12025550142"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0722 ABC DEF", "bad_characters"),
        ("call me maybe", "bad_characters"),
        ("+999 123 456", "unparseable"),  # no such country code
        ("00", "unparseable"),
        ("0722 123 45", "invalid"),  # a digit missing
        ("0722 123 4567", "invalid"),  # one too many
        ("+40 999 999 999", "invalid"),
    ],
)
def test_invalid_numbers_say_why(written: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_phone(written)
    assert caught.value.reason == reason
    assert caught.value.raw == written
    assert caught.value.message and str(caught.value) == caught.value.message
    assert try_normalize_phone(written) is None


def test_invalid_phone_number_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_phone("12")


@given(st.integers(min_value=0, max_value=999_999))
def test_every_vodafone_number_round_trips(subscriber: int) -> None:
    national = f"0722{subscriber:06d}"
    e164 = normalize_phone(national)
    assert e164 == "+40" + national[1:]
    assert normalize_phone(e164) == e164
    assert normalize_phone(f"{national[:4]} {national[4:7]} {national[7:]}") == e164
