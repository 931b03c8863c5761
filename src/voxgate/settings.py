"""Settings from the environment or ``.env``, validated once at start-up.

A mistake here becomes one readable ``ConfigError`` message (which variable, what is wrong), never
a traceback: ``voxgate serve`` prints it and exits with status 2.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Backend = Literal["auto", "simulator", "openai", "azure"]
AgentName = Literal["bartender", "salon"]


class ConfigError(Exception):
    """A configuration mistake, worded for the person who made it."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_realtime_model: str = Field(default="gpt-realtime", alias="OPENAI_REALTIME_MODEL")
    azure_openai_endpoint: str | None = Field(default=None, alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_version: str = Field(default="2025-04-01-preview", alias="OPENAI_API_VERSION")

    backend: Backend = Field(default="auto", alias="VOXGATE_BACKEND")
    host: str = Field(default="127.0.0.1", alias="VOXGATE_HOST")
    port: int = Field(default=8000, ge=0, le=65535, alias="PORT")

    database_url: str = Field(default="sqlite+aiosqlite:///./voxgate.db", alias="DATABASE_URL")
    journal_path: str = Field(default="./voxgate.journal", alias="VOXGATE_JOURNAL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    public_url: str | None = Field(default=None, alias="VOXGATE_PUBLIC_URL")
    twilio_auth_token: SecretStr | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    # The phone line (issue 5).
    twilio_phone_number: str | None = Field(default=None, alias="TWILIO_PHONE_NUMBER")
    """Caller id for outbound calls (``POST /api/calls``) when the request names none."""
    twilio_api_base_url: str | None = Field(default=None, alias="TWILIO_API_BASE_URL")
    """Send Twilio REST requests here instead of https://api.twilio.com (a stand-in, a proxy)."""
    phone_agent: AgentName = Field(default="salon", alias="VOXGATE_PHONE_AGENT")
    phone_audio: Literal["pcmu", "pcm"] = Field(default="pcmu", alias="VOXGATE_PHONE_AUDIO")
    """``pcmu``: Twilio's G.711 passes through untouched; ``pcm``: transcode to PCM16 24 kHz upstream."""
    phone_media_ms: int = Field(default=100, ge=20, le=1000, multiple_of=20, alias="VOXGATE_PHONE_MEDIA_MS")
    """Largest media message sent to Twilio: audio is cut in 20 ms frames and a delta's whole frames are
    sent together up to this size (fewer messages per second of audio; Twilio accepts any size)."""
    fallback_number: str | None = Field(default=None, alias="VOXGATE_FALLBACK_NUMBER")
    transfer_number: str | None = Field(default=None, alias="VOXGATE_TRANSFER_NUMBER")
    call_token_secret: SecretStr | None = Field(default=None, alias="VOXGATE_CALL_TOKEN_SECRET")
    max_calls: int = Field(default=100, ge=1, alias="VOXGATE_MAX_CALLS")
    """Concurrent phone calls per business; more get a spoken apology."""
    stream_wait_seconds: float = Field(default=15.0, gt=0, alias="VOXGATE_STREAM_WAIT_SECONDS")
    """How long a session opened by the voice webhook waits for Twilio's Media Stream."""

    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list, alias="VOXGATE_API_KEYS")
    admin_key: SecretStr | None = Field(default=None, alias="VOXGATE_ADMIN_KEY")
    default_agent: AgentName = Field(default="bartender", alias="VOXGATE_DEFAULT_AGENT")

    max_message_bytes: int = Field(default=1 << 20, ge=1024, le=15 << 20, alias="VOXGATE_MAX_MESSAGE_BYTES")
    ws_compression: bool = Field(default=False, alias="VOXGATE_WS_COMPRESSION")
    """Accept permessage-deflate from clients that offer it (off: base64 audio deflates to about three
    quarters of its size, for more CPU per frame than the rest of the relay)."""
    max_messages_per_second: float = Field(default=200.0, gt=0, alias="VOXGATE_MAX_MESSAGES_PER_SECOND")
    max_session_seconds: float = Field(default=3600.0, gt=0, alias="VOXGATE_MAX_SESSION_SECONDS")
    audio_batch_ms: int = Field(default=60, ge=0, le=500, alias="VOXGATE_AUDIO_BATCH_MS")
    """Web and SDK clients' audio appends are held up to this long and sent upstream as one (0: off)."""
    upstream_connect_timeout: float = Field(default=10.0, gt=0, alias="VOXGATE_UPSTREAM_CONNECT_TIMEOUT")
    upstream_reconnect_attempts: int = Field(default=4, ge=0, alias="VOXGATE_UPSTREAM_RECONNECT_ATTEMPTS")
    tool_timeout_seconds: float = Field(default=10.0, gt=0, alias="VOXGATE_TOOL_TIMEOUT")

    log_level: str = Field(default="INFO", alias="VOXGATE_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field(default="text", alias="VOXGATE_LOG_FORMAT")
    record_audio: bool = Field(default=False, alias="VOXGATE_RECORD_AUDIO")
    redact: bool = Field(default=False, alias="VOXGATE_REDACT")
    # Recording and analytics (issue 4).
    store_enabled: bool = Field(default=True, alias="VOXGATE_STORE")
    """``0``: relay without recording conversations (no events, transcripts or usage are stored)."""
    recordings_dir: str = Field(default="./recordings", alias="VOXGATE_RECORDINGS_DIR")
    """Where ``VOXGATE_RECORD_AUDIO`` writes one WAV file per conversation item."""
    prices: dict[str, dict[str, float]] = Field(default_factory=dict, alias="VOXGATE_PRICES")
    """USD per 1M tokens by model, merged over the built-in table (``voxgate.pricing``), e.g.
    ``{"gpt-realtime": {"text_in": 4, "text_out": 16, "audio_in": 32, "audio_out": 64}}``."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_from_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("call_token_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("must be at least 16 bytes long")
        return value

    @field_validator("prices")
    @classmethod
    def _known_price_names(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        from voxgate.pricing import PriceTable

        PriceTable(value)  # raises for a price name the table does not have
        return value

    @field_validator("openai_api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def effective_backend(self) -> Literal["simulator", "openai", "azure"]:
        if self.backend == "auto":
            return "openai" if self.openai_api_key else "simulator"
        return self.backend

    @property
    def call_token_key(self) -> bytes | None:
        """The key of per-call tokens: its own setting, else derived from the Twilio auth token."""
        if self.call_token_secret is not None:
            return self.call_token_secret.get_secret_value().encode()
        if self.twilio_auth_token is None:
            return None
        token = self.twilio_auth_token.get_secret_value().encode()
        # A derived key, so a leaked call token never helps anyone forge webhook signatures.
        return hmac.new(token, b"voxgate call-token key", hashlib.sha256).digest()

    @property
    def client_keys(self) -> frozenset[str]:
        return frozenset(key.get_secret_value() for key in self.api_keys)

    def check_ready_to_serve(self) -> None:
        """Refuse combinations that would run, but unsafely or uselessly."""
        if self.effective_backend in ("openai", "azure") and not self.openai_api_key:
            raise ConfigError(
                f"VOXGATE_BACKEND={self.backend} needs OPENAI_API_KEY. Set the key, or use "
                "VOXGATE_BACKEND=simulator to run offline."
            )
        if self.effective_backend == "azure" and not self.azure_openai_endpoint:
            raise ConfigError("VOXGATE_BACKEND=azure needs AZURE_OPENAI_ENDPOINT.")
        if not is_loopback_host(self.host) and not self.client_keys:
            raise ConfigError(
                f"Refusing to listen on {self.host} with no client authentication: anyone who can reach "
                "it could spend your OpenAI credit. Set VOXGATE_API_KEYS=key1,key2 (clients send "
                "'Authorization: Bearer <key>'), or bind to 127.0.0.1."
            )


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings; a validation failure becomes a ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"  {name}: {error['msg']}")
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from None
