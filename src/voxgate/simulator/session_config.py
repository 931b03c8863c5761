"""The GA session object: defaults, ``session.update`` merging, per-response overrides.

Pure functions over JSON dicts that the SDK models have already validated; the rules are those of
protocol-reference section 4: only present fields change, ``""`` clears instructions, ``[]`` clears
tools, ``null`` clears turn detection, transcription and noise reduction, the model is fixed, the
voice is fixed once audio has been produced. Errors are ``ProtocolError`` with the field's path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final, Literal

from voxgate.protocol.realtime import JSON, ProtocolError

DEFAULT_MODEL: Final = "gpt-realtime"
DEFAULT_VOICE: Final = "marin"
DEFAULT_INSTRUCTIONS: Final = (
    "You are a helpful, friendly voice assistant. Keep your answers short and clear, and speak in the "
    "language the user speaks."
)
SESSION_SECONDS: Final = 3600

SERVER_VAD_DEFAULTS: Final[JSON] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: Final[JSON] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# How long semantic VAD waits in silence, by eagerness (the simulator has no turn-end model).
SEMANTIC_SILENCE_MS: Final[dict[str, int]] = {"low": 1200, "medium": 700, "auto": 700, "high": 400}


def pcm_format() -> JSON:
    return {"type": "audio/pcm", "rate": 24000}


def default_session(*, session_id: str, model: str, expires_at: int) -> JSON:
    """The full session a new connection starts with (protocol-reference 2.3 / 8.1)."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": session_id,
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": expires_at,
        "audio": {
            "input": {
                "format": pcm_format(),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": pcm_format(), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
        "include": None,
    }


def normalize_format(fmt: Any, param: str) -> JSON:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "audio/pcm"):
        rate = fmt.get("rate") if isinstance(fmt, dict) else None
        if rate not in (None, 24000):
            raise ProtocolError(
                "invalid_value", "audio/pcm only supports a rate of 24000.", param=f"{param}.rate"
            )
        return pcm_format()
    return {"type": kind}


def _turn_detection(current: Any, update: Any) -> JSON | None:
    if update is None:
        return None
    kind = update.get("type")
    base = SERVER_VAD_DEFAULTS if kind == "server_vad" else SEMANTIC_VAD_DEFAULTS
    merged = dict(current) if isinstance(current, dict) and current.get("type") == kind else dict(base)
    merged.update(update)
    return merged


def _check_output_modalities(value: Any, param: str) -> None:
    if not isinstance(value, list) or len(value) != 1:
        raise ProtocolError(
            "invalid_value",
            "output_modalities must hold exactly one of 'audio' or 'text'.",
            param=param,
        )


def _check_max_tokens(value: Any, param: str) -> None:
    if value != "inf" and not (isinstance(value, int) and 1 <= value <= 4096):
        raise ProtocolError("invalid_value", "max_output_tokens must be 1..4096 or 'inf'.", param=param)


def apply_session_update(current: JSON, update: JSON, *, voice_locked: bool) -> JSON:
    """The effective session after ``update`` (a validated ``session.update.session``), or raise."""
    session = copy.deepcopy(current)
    if update.get("type") != "realtime":
        raise ProtocolError(
            "invalid_value", "The simulator only serves realtime sessions.", param="session.type"
        )
    for key, value in update.items():
        param = f"session.{key}"
        if key == "type":
            continue
        if key == "model":
            if value != session["model"]:
                raise ProtocolError("invalid_value", "The model of a session cannot be changed.", param=param)
        elif key == "output_modalities":
            _check_output_modalities(value, param)
            session[key] = list(value)
        elif key == "max_output_tokens":
            _check_max_tokens(value, param)
            session[key] = value
        elif key == "tracing":
            if session.get("tracing") is not None and value != session["tracing"]:
                raise ProtocolError(
                    "invalid_value", "Tracing cannot be modified once it is enabled.", param=param
                )
            session[key] = value
        elif key == "audio":
            _apply_audio(session["audio"], value or {}, voice_locked=voice_locked)
        else:
            session[key] = copy.deepcopy(value)
    return session


def _apply_audio(audio: JSON, update: JSON, *, voice_locked: bool) -> None:
    inp = update.get("input")
    if isinstance(inp, dict):
        target = audio["input"]
        if "format" in inp:
            target["format"] = normalize_format(inp["format"], "session.audio.input.format")
        if "transcription" in inp:
            target["transcription"] = copy.deepcopy(inp["transcription"])
        if "noise_reduction" in inp:
            reduction = inp["noise_reduction"]
            if reduction is None:
                target["noise_reduction"] = None
            else:
                merged = dict(target.get("noise_reduction") or {"strength": 1.0})
                merged.update(reduction)
                target["noise_reduction"] = merged
        if "turn_detection" in inp:
            target["turn_detection"] = _turn_detection(target.get("turn_detection"), inp["turn_detection"])
    out = update.get("output")
    if isinstance(out, dict):
        target = audio["output"]
        if "format" in out:
            target["format"] = normalize_format(out["format"], "session.audio.output.format")
        if "voice" in out and out["voice"] != target.get("voice"):
            if voice_locked:
                raise ProtocolError(
                    "cannot_update_voice",
                    "Cannot update a conversation's voice if assistant audio is present.",
                    param="session.audio.output.voice",
                )
            target["voice"] = out["voice"]
        if "speed" in out:
            speed = out["speed"]
            if not isinstance(speed, int | float) or not 0.25 <= speed <= 1.5:
                raise ProtocolError(
                    "invalid_value", "speed must be between 0.25 and 1.5.", param="session.audio.output.speed"
                )
            target["speed"] = speed


def session_for_client_secret(session: JSON) -> JSON:
    """The session shown in a client secret: like ``session.created`` but ``expires_at`` 0."""
    shown = copy.deepcopy(session)
    shown["expires_at"] = 0
    return shown


Conversation = Literal["auto", "none"]


@dataclass(frozen=True, slots=True)
class ResponseConfig:
    """What one response uses: the session's settings with the response's own overrides."""

    conversation: Conversation
    output_modalities: list[str]
    instructions: str
    tools: list[JSON]
    tool_choice: Any
    voice: str
    output_format: JSON
    max_output_tokens: int | Literal["inf"]
    metadata: dict[str, str] | None
    input: list[JSON] | None

    @property
    def audio(self) -> bool:
        return self.output_modalities == ["audio"]

    @property
    def format_type(self) -> str:
        return str(self.output_format["type"])


def response_config(session: JSON, params: JSON | None) -> ResponseConfig:
    """Resolve ``response.create.response`` against the session (raises ``ProtocolError``)."""
    given: JSON = params or {}
    conversation = given.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise ProtocolError(
            "invalid_value", "conversation must be 'auto' or 'none'.", param="response.conversation"
        )
    modalities = _pick(given, "output_modalities", session["output_modalities"])
    _check_output_modalities(modalities, "response.output_modalities")
    max_tokens = _pick(given, "max_output_tokens", session.get("max_output_tokens", "inf"))
    _check_max_tokens(max_tokens, "response.max_output_tokens")
    metadata = given.get("metadata")
    if metadata is not None:
        _check_metadata(metadata)
    output = (given.get("audio") or {}).get("output") or {}
    session_output = session["audio"]["output"]
    fmt = (
        normalize_format(output["format"], "response.audio.output.format")
        if "format" in output
        else dict(session_output["format"])
    )
    return ResponseConfig(
        conversation=conversation,
        output_modalities=list(modalities),
        instructions=str(_pick(given, "instructions", session.get("instructions") or "")),
        tools=list(_pick(given, "tools", session.get("tools") or [])),
        tool_choice=_pick(given, "tool_choice", session.get("tool_choice", "auto")),
        voice=str(output.get("voice") or session_output.get("voice") or DEFAULT_VOICE),
        output_format=fmt,
        max_output_tokens=max_tokens,
        metadata=metadata,
        input=given.get("input"),
    )


def _pick(given: JSON, key: str, fallback: Any) -> Any:
    """The response's own value for ``key`` when it gave one, else the session's."""
    value = given.get(key)
    return fallback if value is None else value


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise ProtocolError("invalid_value", "metadata holds at most 16 pairs.", param="response.metadata")
    for key, value in metadata.items():
        if len(str(key)) > 64 or not isinstance(value, str) or len(value) > 512:
            raise ProtocolError(
                "invalid_value",
                "metadata keys are at most 64 characters and values strings of at most 512.",
                param=f"response.metadata.{key}",
            )
