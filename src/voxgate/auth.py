"""Client authentication for the gateway's doors.

A client key (``VOXGATE_API_KEYS``) may come as ``Authorization: Bearer <key>``, as ``?token=<key>``
or, from a browser that cannot set headers, as the WebSocket subprotocol
``openai-insecure-api-key.<key>``. With no keys configured the gateway serves loopback clients only
(and ``voxgate serve`` refuses to bind to anything else).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from voxgate.settings import is_loopback_host

SUBPROTOCOL_KEY_PREFIX = "openai-insecure-api-key."


@dataclass(frozen=True, slots=True)
class AuthDecision:
    ok: bool
    reason: str = ""
    subprotocol: str | None = None
    """The subprotocol to accept in the WebSocket handshake (browsers need one echoed back)."""


def presented_key(
    headers: Mapping[str, str], query: Mapping[str, str], subprotocols: Iterable[str] = ()
) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = query.get("token")
    if token:
        return token
    for protocol in subprotocols:
        if protocol.startswith(SUBPROTOCOL_KEY_PREFIX):
            return protocol[len(SUBPROTOCOL_KEY_PREFIX) :]
    return None


def key_matches(presented: str | None, allowed: Iterable[str]) -> bool:
    if presented is None:
        return False
    # compare_digest on every key: the time taken does not reveal which key (or how much of it) matched.
    matched = False
    for key in allowed:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def choose_subprotocol(subprotocols: Iterable[str]) -> str | None:
    offered = list(subprotocols)
    if "realtime" in offered:
        return "realtime"
    return None


def authorize(
    *,
    keys: frozenset[str],
    headers: Mapping[str, str],
    query: Mapping[str, str],
    subprotocols: Iterable[str],
    client_host: str | None,
) -> AuthDecision:
    offered = list(subprotocols)
    subprotocol = choose_subprotocol(offered)
    if not keys:
        if client_host is not None and is_loopback_host(client_host):
            return AuthDecision(True, subprotocol=subprotocol)
        return AuthDecision(
            False, "no client keys are configured, so only loopback clients are served", subprotocol
        )
    if key_matches(presented_key(headers, query, offered), keys):
        return AuthDecision(True, subprotocol=subprotocol)
    # A refusal still echoes the subprotocol: a browser fails the handshake otherwise and never sees why.
    return AuthDecision(
        False, "a valid client key is required (Authorization: Bearer, ?token= or subprotocol)", subprotocol
    )
