"""Per-call tokens: signed, short-lived, bound to one call, usable once."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.protocol import calltoken
from voxgate.protocol.calltoken import (
    CallTokenError,
    Claims,
    ExpiredToken,
    ForgedToken,
    MalformedToken,
    ReplayedToken,
    ReplayGuard,
    WrongCall,
    mint,
    verify,
    verify_once,
)

SECRET = "s3cret-s3cret-s3cret-s3cret"
CALL = "CAfedcba9876543210fedcba9876543210"
NOW = 1_750_000_000.0


def test_round_trip() -> None:
    token = mint(SECRET, CALL, "salon", NOW, ttl_s=60, nonce="n1")
    assert verify(SECRET, token, NOW + 1, call_sid=CALL) == Claims(CALL, "salon", int(NOW) + 60, "n1")


def test_token_fits_in_a_twiml_parameter() -> None:
    token = mint(SECRET, CALL, "bartender", NOW)
    assert len(token) < 200
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def test_expiry_is_exclusive() -> None:
    token = mint(SECRET, CALL, "salon", NOW, ttl_s=30)
    verify(SECRET, token, NOW + 29.9)
    with pytest.raises(ExpiredToken, match="expired"):
        verify(SECRET, token, NOW + 30)


def test_wrong_secret_is_forged() -> None:
    token = mint(SECRET, CALL, "salon", NOW)
    with pytest.raises(ForgedToken, match="signature"):
        verify("another-secret-of-enough-length", token, NOW)


def test_altered_payload_is_forged() -> None:
    token = mint(SECRET, CALL, "salon", NOW, ttl_s=60)
    version, payload, signature = token.split(".")
    fields = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields[2] += 3600  # extend its life
    forged_payload = base64.urlsafe_b64encode(orjson.dumps(fields)).rstrip(b"=").decode()
    with pytest.raises(ForgedToken):
        verify(SECRET, f"{version}.{forged_payload}.{signature}", NOW)


def test_other_call_is_refused() -> None:
    token = mint(SECRET, CALL, "salon", NOW)
    with pytest.raises(WrongCall):
        verify(SECRET, token, NOW, call_sid="CA00000000000000000000000000000000")
    assert verify(SECRET, token, NOW).call_sid == CALL  # no call sid given: not checked


@pytest.mark.parametrize(
    "token",
    ["", "abc", "v1.abc", "v2.YQ.YQ", "v1.a.b.c", "v1.!!.YQ", "v1.YQ.==", "v1." + "a" * 2000 + ".YQ"],
)
def test_malformed(token: str) -> None:
    with pytest.raises(MalformedToken):
        verify(SECRET, token, NOW)


def test_signed_but_misshapen_payload_is_malformed() -> None:
    key = SECRET.encode()
    for payload in (b"not json", b'{"a": 1}', b'["CA1", "x", true, "n"]', b'["CA1", "x", 5]'):
        signature = calltoken._mac(key, payload)
        token = "v1.{}.{}".format(
            base64.urlsafe_b64encode(payload).rstrip(b"=").decode(),
            base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
        )
        with pytest.raises(MalformedToken):
            verify(SECRET, token, NOW)


def test_errors_share_a_base() -> None:
    for error in (MalformedToken, ForgedToken, ExpiredToken, WrongCall, ReplayedToken):
        assert issubclass(error, CallTokenError)
    assert issubclass(CallTokenError, ValueError)


def test_short_secret_and_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        mint("short", CALL, "salon", NOW)
    with pytest.raises(ValueError, match="at least"):
        verify("short", "v1.YQ.YQ", NOW)
    with pytest.raises(ValueError):
        mint(SECRET, "", "salon", NOW)
    with pytest.raises(ValueError):
        mint(SECRET, CALL, "salon", NOW, ttl_s=0)


def test_bytes_and_str_secrets_agree() -> None:
    token = mint(SECRET.encode(), CALL, "salon", NOW, nonce="n")
    assert token == mint(SECRET, CALL, "salon", NOW, nonce="n")
    verify(SECRET, token, NOW)


def test_nonces_differ_between_mints() -> None:
    assert mint(SECRET, CALL, "salon", NOW) != mint(SECRET, CALL, "salon", NOW)


def test_replay_guard_refuses_a_second_use() -> None:
    guard = ReplayGuard()
    token = mint(SECRET, CALL, "salon", NOW, ttl_s=60)
    claims = verify_once(SECRET, token, NOW, guard, call_sid=CALL)
    assert claims.business == "salon"
    with pytest.raises(ReplayedToken):
        verify_once(SECRET, token, NOW + 10, guard, call_sid=CALL)
    other = mint(SECRET, CALL, "salon", NOW, ttl_s=60)
    verify_once(SECRET, other, NOW + 10, guard)
    assert len(guard) == 2


def test_replay_guard_forgets_expired_tokens() -> None:
    guard = ReplayGuard()
    first = verify(SECRET, mint(SECRET, CALL, "salon", NOW, ttl_s=10, nonce="a"), NOW)
    guard.use(first, NOW)
    later = verify(SECRET, mint(SECRET, CALL, "salon", NOW + 5, ttl_s=60, nonce="b"), NOW + 5)
    guard.use(later, NOW + 5)
    assert len(guard) == 2
    third = verify(SECRET, mint(SECRET, CALL, "salon", NOW + 20, ttl_s=60, nonce="c"), NOW + 20)
    guard.use(third, NOW + 20)
    assert len(guard) == 2  # "a" expired at NOW + 10 and was dropped; a replay of it fails verify anyway
    with pytest.raises(ExpiredToken):
        verify(SECRET, mint(SECRET, CALL, "salon", NOW, ttl_s=10, nonce="a"), NOW + 20)


@given(
    call_sid=st.text(min_size=1, max_size=40),
    business=st.text(max_size=40),
    ttl=st.integers(min_value=1, max_value=7200),
)
def test_any_claims_round_trip(call_sid: str, business: str, ttl: int) -> None:
    token = mint(SECRET, call_sid, business, NOW, ttl_s=ttl)
    claims = verify(SECRET, token, NOW, call_sid=call_sid)
    assert (claims.call_sid, claims.business, claims.expires_at) == (call_sid, business, int(NOW) + ttl)


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-x9."))
def test_any_single_character_change_is_refused(position: int, replacement: str) -> None:
    token = mint(SECRET, CALL, "salon", NOW, nonce="fixed")
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed == token:
        return
    try:
        claims = verify(SECRET, changed, NOW)
    except CallTokenError:
        return
    # Base64 can spell the same bytes twice (unused low bits of the last character); those are the
    # same token, not a forgery.
    assert claims == verify(SECRET, token, NOW)
