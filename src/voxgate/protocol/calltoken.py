"""Short-lived signed per-call tokens that tie a Media Stream to the voice webhook that created it.

The voice webhook (whose ``X-Twilio-Signature`` was checked) mints a token and puts it in the TwiML
``<Parameter name="token">``; Twilio hands it back in the stream's ``start.customParameters``. The
stream handler verifies it before opening a (billed) upstream session, so a WebSocket that did not
come through a signed webhook gets nothing.

Token layout (URL-safe, no padding, short because Twilio caps ``<Parameter>`` sizes)::

    v1.<base64url(JSON [call_sid, business, expires_at, nonce])>.<base64url(HMAC-SHA256)>

The MAC covers a domain-separation label and the exact payload bytes. Pure: the caller passes the
current time (seconds since the epoch), and may pass the nonce.

Exceptions::

    CallTokenError (ValueError)
    ├── MalformedToken     not a token of this format
    ├── ForgedToken        the signature does not match (wrong secret or altered payload)
    ├── ExpiredToken       past its expiry
    ├── WrongCall          valid, but minted for another call
    └── ReplayedToken      already used (ReplayGuard)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

import orjson

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")
VERSION: Final = "v1"
_LABEL: Final = b"voxgate-calltoken-v1\x00"
MIN_SECRET_BYTES: Final = 16


class CallTokenError(ValueError):
    """A call token that must not be accepted."""


class MalformedToken(CallTokenError):
    pass


class ForgedToken(CallTokenError):
    pass


class ExpiredToken(CallTokenError):
    pass


class WrongCall(CallTokenError):
    pass


class ReplayedToken(CallTokenError):
    pass


@dataclass(frozen=True, slots=True)
class Claims:
    call_sid: str
    business: str
    expires_at: int
    """Seconds since the epoch; the token is refused from this instant on."""
    nonce: str


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the call-token secret must be at least {MIN_SECRET_BYTES} bytes")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _LABEL + payload, hashlib.sha256).digest()


def mint(
    secret: str | bytes,
    call_sid: str,
    business: str,
    now: float,
    ttl_s: float = 120.0,
    *,
    nonce: str | None = None,
) -> str:
    """A token for ``call_sid`` valid for ``ttl_s`` seconds from ``now``."""
    if not call_sid:
        raise ValueError("a call token needs a call sid")
    if ttl_s <= 0:
        raise ValueError("a call token needs a positive lifetime")
    expires_at = math.ceil(now + ttl_s)
    payload = orjson.dumps([call_sid, business, expires_at, nonce or secrets.token_urlsafe(12)])
    return f"{VERSION}.{_b64(payload)}.{_b64(_mac(_key(secret), payload))}"


def verify(secret: str | bytes, token: str, now: float, call_sid: str | None = None) -> Claims:
    """The token's claims, or a :class:`CallTokenError` saying why it is refused.

    The signature is checked before the payload is parsed, so nothing of an unsigned payload is
    looked at; ``call_sid`` (the sid in the stream's ``start``) must match when given.
    """
    key = _key(secret)
    if not isinstance(token, str) or len(token) > 1024:
        raise MalformedToken("the call token is not a string of a sensible length")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise MalformedToken(f"the call token is not a {VERSION} token")
    if not (_B64URL.fullmatch(parts[1]) and _B64URL.fullmatch(parts[2])):
        raise MalformedToken("the call token is not valid base64url")
    try:
        payload = _unb64(parts[1])
        signature = _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise MalformedToken("the call token is not valid base64url") from None
    if not hmac.compare_digest(signature, _mac(key, payload)):
        raise ForgedToken("the call token's signature does not match")
    try:
        fields = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MalformedToken("the call token's payload is not JSON") from None
    if not (
        isinstance(fields, list)
        and len(fields) == 4
        and isinstance(fields[0], str)
        and isinstance(fields[1], str)
        and isinstance(fields[2], int)
        and not isinstance(fields[2], bool)
        and isinstance(fields[3], str)
    ):
        raise MalformedToken("the call token's payload has the wrong shape")
    claims = Claims(call_sid=fields[0], business=fields[1], expires_at=fields[2], nonce=fields[3])
    if now >= claims.expires_at:
        raise ExpiredToken(f"the call token expired {now - claims.expires_at:.0f}s ago")
    if call_sid is not None and not hmac.compare_digest(claims.call_sid.encode(), call_sid.encode()):
        raise WrongCall("the call token was minted for another call")
    return claims


@dataclass(slots=True)
class ReplayGuard:
    """Refuses a token whose nonce was already used while that token could still be valid.

    Memory is bounded by the tokens used within one lifetime: entries leave once their token has
    expired, because an expired token is refused by :func:`verify` anyway.
    """

    _seen: dict[str, int] = field(default_factory=dict)
    _expiries: list[tuple[int, str]] = field(default_factory=list)

    def use(self, claims: Claims, now: float) -> None:
        """Record one use of a verified token; raises :class:`ReplayedToken` on a second use."""
        self._forget_expired(now)
        if claims.nonce in self._seen:
            raise ReplayedToken("the call token was already used")
        self._seen[claims.nonce] = claims.expires_at
        heapq.heappush(self._expiries, (claims.expires_at, claims.nonce))

    def _forget_expired(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, nonce = heapq.heappop(self._expiries)
            self._seen.pop(nonce, None)

    def __len__(self) -> int:
        return len(self._seen)


def verify_once(
    secret: str | bytes, token: str, now: float, guard: ReplayGuard, call_sid: str | None = None
) -> Claims:
    """:func:`verify`, then :meth:`ReplayGuard.use`: what the stream handler needs in one call."""
    claims = verify(secret, token, now, call_sid)
    guard.use(claims, now)
    return claims
