"""``X-Twilio-Signature`` checks for the phone line's two doors (protocol-reference section 17).

Twilio signs the URL it requested, so the check needs the *public* URL, not the one the app sees
behind a proxy or tunnel: it is rebuilt from ``VOXGATE_PUBLIC_URL`` plus the request's path and
query. Without that setting the URL the request arrived on is used, which is right for direct,
local use and fails closed (403) behind a proxy.

- Webhooks (HTTP POST): the form parameters are part of the signature.
- The Media Stream upgrade: Twilio signs the ``wss://`` URL from the TwiML with no parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from twilio.request_validator import RequestValidator

log = logging.getLogger("voxgate.twilio")

SIGNATURE_HEADER = "x-twilio-signature"


def public_base(configured: str | None, seen_base: str) -> str:
    """``scheme://host[:port]`` (and any path prefix) under which Twilio reaches the gateway."""
    return (configured or seen_base).rstrip("/")


def websocket_url(http_url: str) -> str:
    """The WebSocket form of an HTTP URL: https -> wss, http -> ws (local use only)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url[len("https://") :]
    if http_url.startswith("http://"):
        return "ws://" + http_url[len("http://") :]
    return http_url


def with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


class TwilioSigner:
    """Validates (and, for the caller simulator and tests, computes) Twilio signatures."""

    def __init__(self, auth_token: str | None) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None

    @property
    def configured(self) -> bool:
        return self._validator is not None

    def valid(self, url: str, params: Mapping[str, Any] | None, signature: str | None) -> bool:
        """False when no auth token is configured, the header is missing, or it does not match."""
        if self._validator is None:
            log.warning("refused a Twilio request: TWILIO_AUTH_TOKEN is not set, so nothing can be verified")
            return False
        if not signature:
            return False
        return bool(self._validator.validate(url, params or {}, signature))

    def sign(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        if self._validator is None:
            raise ValueError("no Twilio auth token to sign with")
        return str(self._validator.compute_signature(url, params or {}))
