"""Romanian CNP validation: check digit, encoded birth date, county, age on a given day."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.tools.cnp import COUNTY_CODES, REASON_TEXT, CnpCheck, age_on, check_cnp, check_digit

TODAY = date(2025, 6, 3)
_SEX_FOR_CENTURY = {1800: 3, 1900: 1, 2000: 5}


def make_cnp(born: date, *, sex: int | None = None, county: int = 22, serial: int = 114) -> str:
    digit = sex if sex is not None else _SEX_FOR_CENTURY[born.year // 100 * 100]
    first12 = f"{digit}{born:%y%m%d}{county:02d}{serial:03d}"
    return first12 + str(check_digit(first12))


def test_check_digit_by_hand() -> None:
    # 1 8 0 0 1 0 1 2 2 1 1 4 weighted by 2 7 9 1 4 6 3 5 8 2 7 9: 136 = 12 * 11 + 4
    assert check_digit("180010122114") == 4
    # ... ending in 1 instead of 4: 109 = 9 * 11 + 10, and a remainder of 10 is written as 1
    assert check_digit("180010122111") == 1
    with pytest.raises(ValueError):
        check_digit("12345")


def test_valid_adult() -> None:
    assert check_cnp("1800101221144", TODAY) == CnpCheck(valid=True, reason=None, adult=True, age=45)
    assert check_cnp("1800101221111", TODAY).valid  # check digit from a remainder of 10


@pytest.mark.parametrize(
    "spelled", [" 1800101221144 ", "1 800101 22 114 4", "1-800101-22-114-4", "180.0101.221144"]
)
def test_separators_are_ignored(spelled: str) -> None:
    assert check_cnp(spelled, TODAY).valid


def test_under_age() -> None:
    result = check_cnp(make_cnp(date(2010, 4, 12)), TODAY)
    assert result == CnpCheck(valid=True, reason=None, adult=False, age=15)


def test_eighteenth_birthday_is_the_first_adult_day() -> None:
    cnp = make_cnp(date(2007, 6, 3))
    assert check_cnp(cnp, date(2025, 6, 2)) == CnpCheck(True, None, adult=False, age=17)
    assert check_cnp(cnp, date(2025, 6, 3)) == CnpCheck(True, None, adult=True, age=18)


def test_born_on_29_february_comes_of_age_on_1_march_in_common_years() -> None:
    cnp = make_cnp(date(2004, 2, 29))
    assert not check_cnp(cnp, date(2022, 2, 28)).adult
    assert check_cnp(cnp, date(2022, 3, 1)).adult
    assert check_cnp(cnp, date(2024, 2, 29)).age == 20


def test_centuries() -> None:
    assert check_cnp(make_cnp(date(1899, 12, 31)), TODAY).age == 125  # 3/4: the 1800s
    assert check_cnp(make_cnp(date(1899, 12, 31), sex=4), TODAY).valid
    assert check_cnp(make_cnp(date(2001, 1, 1), sex=6), TODAY).age == 24


@pytest.mark.parametrize("sex", [7, 8, 9])
def test_no_century_digits_read_the_most_recent_past_year(sex: int) -> None:
    # "10" could be 1910 or 2010: the younger reading is the safe one for an age check.
    young = check_cnp(make_cnp(date(2010, 4, 12), sex=sex), TODAY)
    assert young == CnpCheck(True, None, adult=False, age=15)
    # "95" cannot be 2095 (future), so 1995.
    assert check_cnp(make_cnp(date(1995, 4, 12), sex=sex), TODAY).age == 30
    # 29.02.00: 2000 was a leap year (and is not in the future).
    assert check_cnp(make_cnp(date(2000, 2, 29), sex=sex), TODAY).age == 25


@pytest.mark.parametrize(
    ("cnp", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("18001012211x4", "not_digits"),
        ("１８００１０１２２１１４４", "not_digits"),  # full-width digits
        ("180010122114", "wrong_length"),
        ("18001012211444", "wrong_length"),
        ("0800101221144", "bad_sex_digit"),
        ("1801301221144", "bad_birth_date"),  # month 13
        ("1800230221144", "bad_birth_date"),  # 30 February
        ("1800100221144", "bad_birth_date"),  # day 0
        ("5300101221144", "future_birth_date"),  # 2030
        ("1800101001144", "bad_county"),
        ("1800101491144", "bad_county"),
        ("1800101501144", "bad_county"),
        ("1800101991144", "bad_county"),
        ("1800101220004", "bad_serial"),
        ("1800101221145", "bad_check_digit"),
    ],
)
def test_invalid(cnp: str, reason: str) -> None:
    result = check_cnp(cnp, TODAY)
    assert result == CnpCheck(valid=False, reason=reason, adult=False, age=None)  # type: ignore[arg-type]
    assert result.as_dict()["message"] == REASON_TEXT[result.reason]  # type: ignore[index]


@pytest.mark.parametrize("county", [1, 40, 41, 46, 47, 51, 52, 70, 80, 83])
def test_special_county_codes(county: int) -> None:
    assert check_cnp(make_cnp(date(1990, 5, 17), county=county), TODAY).valid


def test_the_birth_date_is_not_in_the_result() -> None:
    result = check_cnp("1800101221144", TODAY)
    assert [f.name for f in fields(result)] == ["valid", "reason", "adult", "age"]
    assert result.as_dict() == {"valid": True, "adult": True, "age": 45}
    for shown in (repr(result), str(result.as_dict())):
        assert "1980" not in shown and "800101" not in shown


births = st.dates(min_value=date(1800, 1, 1), max_value=TODAY)


@given(
    born=births,
    county=st.sampled_from(sorted(COUNTY_CODES)),
    serial=st.integers(1, 999),
    female=st.booleans(),
)
def test_every_well_formed_cnp_is_valid_with_the_right_age(
    born: date, county: int, serial: int, female: bool
) -> None:
    sex = _SEX_FOR_CENTURY[born.year // 100 * 100] + int(female)
    result = check_cnp(make_cnp(born, sex=sex, county=county, serial=serial), TODAY)
    assert result.valid and result.reason is None
    assert result.age == age_on(born, TODAY)
    assert result.adult == (result.age >= 18)


@given(born=births, wrong=st.integers(0, 9))
def test_any_other_check_digit_is_rejected(born: date, wrong: int) -> None:
    cnp = make_cnp(born)
    if int(cnp[-1]) != wrong:
        assert check_cnp(cnp[:-1] + str(wrong), TODAY).reason == "bad_check_digit"


@given(born=births, position=st.integers(0, 11), delta=st.integers(1, 9))
def test_a_single_changed_digit_is_never_a_different_valid_person_with_the_same_check(
    born: date, position: int, delta: int
) -> None:
    # The weights are all prime to 11, so changing one digit changes the sum modulo 11. The only
    # blind spot is the 10 -> 1 folding: remainders 1 and 10 share the check digit 1.
    cnp = make_cnp(born)
    changed = cnp[:position] + str((int(cnp[position]) + delta) % 10) + cnp[position + 1 :]
    result = check_cnp(changed, TODAY)
    if result.valid:
        assert cnp[-1] == "1"
