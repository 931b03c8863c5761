"""GA ephemeral client secrets (``POST /v1/realtime/client_secrets``, protocol-reference 2.3).

Minting validates the requested session like ``session.update`` does and returns the full effective
session; the ``ek_`` value then works as a bearer until it expires, and sessions opened with it
start from that session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from openai.types.realtime import RealtimeSessionCreateRequest
from pydantic import ValidationError

from voxgate.protocol.realtime import JSON, ProtocolError, protocol_error_from_validation, unknown_fields
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.session_config import apply_session_update, default_session, session_for_client_secret

DEFAULT_TTL: Final = 600
MIN_TTL: Final = 10
MAX_TTL: Final = 7200


@dataclass(frozen=True, slots=True)
class ClientSecret:
    value: str
    expires_at: int
    session: JSON  # the full effective session (its id and expires_at are replaced per connection)

    def response(self) -> JSON:
        return {
            "value": self.value,
            "expires_at": self.expires_at,
            "session": session_for_client_secret(self.session),
        }


def requested_secret(body: Any, *, default_model: str, now: float, ids: IdFactory) -> ClientSecret:
    """Validate a client-secret request body; raises ``ProtocolError`` (an HTTP 400 for the caller)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ProtocolError("invalid_value", "The request body must be a JSON object.")
    unknown = set(body) - {"expires_after", "session"}
    if unknown:
        name = sorted(unknown)[0]
        raise ProtocolError("unknown_parameter", f"Unknown parameter: '{name}'.", param=name)
    expires_after = body.get("expires_after") or {}
    if not isinstance(expires_after, dict) or expires_after.get("anchor", "created_at") != "created_at":
        raise ProtocolError(
            "invalid_value", "expires_after.anchor must be 'created_at'.", param="expires_after.anchor"
        )
    seconds = expires_after.get("seconds", DEFAULT_TTL)
    if not isinstance(seconds, int) or not MIN_TTL <= seconds <= MAX_TTL:
        raise ProtocolError(
            "invalid_value",
            f"expires_after.seconds must be {MIN_TTL}..{MAX_TTL}.",
            param="expires_after.seconds",
        )
    requested = body.get("session") or {"type": "realtime"}
    if not isinstance(requested, dict) or requested.get("type", "realtime") != "realtime":
        raise ProtocolError(
            "invalid_value", "The simulator only mints realtime sessions.", param="session.type"
        )
    requested = {"type": "realtime", **requested}
    try:
        model = RealtimeSessionCreateRequest.model_validate(requested)
    except ValidationError as exc:
        error = protocol_error_from_validation(exc, None)
        raise ProtocolError(
            error.code, error.message, param=f"session.{error.param}" if error.param else None
        ) from None
    unknown_paths = unknown_fields(model, "session.")
    if unknown_paths:
        raise ProtocolError(
            "unknown_parameter", f"Unknown parameter: '{unknown_paths[0]}'.", param=unknown_paths[0]
        )
    base = default_session(
        session_id=ids("sess_"), model=str(requested.get("model") or default_model), expires_at=0
    )
    session = apply_session_update(base, requested, voice_locked=False)
    return ClientSecret(ids("ek_", 32), int(now) + seconds, session)


class ClientSecrets:
    """The secrets minted by one simulator, until they expire."""

    def __init__(self) -> None:
        self._secrets: dict[str, ClientSecret] = {}

    def add(self, secret: ClientSecret) -> None:
        self._secrets[secret.value] = secret

    def lookup(self, value: str, now: float) -> ClientSecret | None:
        secret = self._secrets.get(value)
        if secret is not None and secret.expires_at <= now:
            del self._secrets[value]
            return None
        return secret
