"""Twilio Media Streams messages (protocol-reference section 18), parsed and built without I/O.

Twilio sends about 50 ``media`` messages per second per call, so parsing is one ``orjson.loads``, a
dict lookup on ``event`` and a small slotted dataclass per message; no pydantic on this path.
Outgoing messages are ready-to-send JSON text; :class:`TwilioOutbound` precomputes the parts that
do not change for a stream so a ``media`` message is two string concatenations around base64.

Exceptions::

    TwilioProtocolError (ValueError)   the message is not a valid Media Streams message
    └── UnknownTwilioEvent             valid JSON with an ``event`` this module does not know
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

JSON = dict[str, Any]


class TwilioProtocolError(ValueError):
    """A frame from Twilio that is not a valid Media Streams message."""


class UnknownTwilioEvent(TwilioProtocolError):
    """A well-formed message whose ``event`` is not one we know; callers may ignore it."""

    def __init__(self, event: str) -> None:
        super().__init__(f"unknown Twilio Media Streams event {event!r}")
        self.event = event


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    tracks: tuple[str, ...]
    custom_parameters: Mapping[str, str]
    media_format: MediaFormat
    sequence_number: int | None = None


@dataclass(slots=True)  # not frozen: a frozen dataclass sets each field through object.__setattr__
class Media:
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    """Milliseconds since the stream started (Twilio's presentation clock, not arrival time)."""
    audio: bytes
    """The decoded payload: raw mu-law 8 kHz bytes."""
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    stream_sid: str
    name: str
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    stream_sid: str
    track: str
    digit: str
    sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    stream_sid: str
    call_sid: str
    account_sid: str
    sequence_number: int | None = None


TwilioMessage = Connected | Start | Media | Mark | Dtmf | Stop


# -- parsing ---------------------------------------------------------------------------------------


def _obj(data: JSON, key: str, event: str) -> JSON:
    value = data.get(key)
    if not isinstance(value, dict):
        raise TwilioProtocolError(f"Twilio {event!r} message has no {key!r} object")
    return value


def _str(data: JSON, key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        if value is None:
            raise TwilioProtocolError(f"Twilio {where} is missing {key!r}")
        raise TwilioProtocolError(f"Twilio {where}: {key!r} must be a string, got {type(value).__name__}")
    return value


def _int(data: JSON, key: str, where: str) -> int:
    # Twilio sends numbers as strings ("chunk": "1"); accept real numbers too, from simulators.
    value = data.get(key)
    if type(value) is str and value.isascii() and value.isdigit():  # the common case, 150 times a second
        return int(value)
    if value is None:
        raise TwilioProtocolError(f"Twilio {where} is missing {key!r}")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TwilioProtocolError(f"Twilio {where}: {key!r} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise TwilioProtocolError(f"Twilio {where}: {key!r} must be an integer, got {value!r}") from None


def _seq(data: JSON, event: str) -> int | None:
    if data.get("sequenceNumber") is None:
        return None
    return _int(data, "sequenceNumber", f"{event!r} message")


def _parse_connected(data: JSON) -> Connected:
    return Connected(
        protocol=_str(data, "protocol", "'connected' message", ""),
        version=_str(data, "version", "'connected' message", ""),
    )


def _parse_start(data: JSON) -> Start:
    start = _obj(data, "start", "start")
    where = "'start' message"
    tracks = start.get("tracks", ["inbound"])
    if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
        raise TwilioProtocolError(f"Twilio {where}: 'tracks' must be a list of strings")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
        raise TwilioProtocolError(f"Twilio {where}: 'customParameters' must map names to strings")
    fmt = start.get("mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise TwilioProtocolError(f"Twilio {where}: 'mediaFormat' must be an object")
    media_format = MediaFormat(
        encoding=_str(fmt, "encoding", where, "audio/x-mulaw"),
        sample_rate=_int(fmt, "sampleRate", where) if "sampleRate" in fmt else 8000,
        channels=_int(fmt, "channels", where) if "channels" in fmt else 1,
    )
    stream_sid = start.get("streamSid", data.get("streamSid"))
    return Start(
        stream_sid=_str({"streamSid": stream_sid}, "streamSid", where),
        call_sid=_str(start, "callSid", where),
        account_sid=_str(start, "accountSid", where, ""),
        tracks=tuple(tracks),
        custom_parameters=dict(params),
        media_format=media_format,
        sequence_number=_seq(data, "start"),
    )


def _count(value: object) -> int | None:
    """A non-negative integer as Twilio writes it (a string of ASCII digits), else None."""
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return None


def _parse_media(data: JSON) -> Media:
    # 50 of these a second per call: a well-formed message takes this path, anything else the checks
    # below, which say what is wrong.
    media = data.get("media")
    if type(media) is dict:
        payload, track = media.get("payload"), media.get("track", "inbound")
        stream_sid = data.get("streamSid")
        chunk, timestamp = _count(media.get("chunk", "0")), _count(media.get("timestamp", "0"))
        sequence = data.get("sequenceNumber")
        number = None if sequence is None else _count(sequence)
        if (
            type(payload) is str
            and type(stream_sid) is str
            and type(track) is str
            and chunk is not None
            and timestamp is not None
            and (number is not None or sequence is None)
        ):
            try:
                audio = binascii.a2b_base64(payload, strict_mode=True)
            except binascii.Error as exc:
                raise TwilioProtocolError(f"Twilio 'media' payload is not valid base64: {exc}") from None
            return Media(stream_sid, track, chunk, timestamp, audio, number)
    return _parse_media_checked(data)


def _parse_media_checked(data: JSON) -> Media:
    media = data.get("media")
    if not isinstance(media, dict):
        raise TwilioProtocolError("Twilio 'media' message has no 'media' object")
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise TwilioProtocolError("Twilio 'media' message is missing a string 'payload'")
    try:
        audio = binascii.a2b_base64(payload, strict_mode=True)
    except binascii.Error as exc:
        raise TwilioProtocolError(f"Twilio 'media' payload is not valid base64: {exc}") from None
    where = "'media' message"
    return Media(
        stream_sid=_str(data, "streamSid", where),
        track=_str(media, "track", where, "inbound"),
        chunk=_int(media, "chunk", where) if "chunk" in media else 0,
        timestamp=_int(media, "timestamp", where) if "timestamp" in media else 0,
        audio=audio,
        sequence_number=_seq(data, "media"),
    )


def _parse_mark(data: JSON) -> Mark:
    mark = _obj(data, "mark", "mark")
    return Mark(
        stream_sid=_str(data, "streamSid", "'mark' message"),
        name=_str(mark, "name", "'mark' message"),
        sequence_number=_seq(data, "mark"),
    )


def _parse_dtmf(data: JSON) -> Dtmf:
    dtmf = _obj(data, "dtmf", "dtmf")
    where = "'dtmf' message"
    digit = _str(dtmf, "digit", where)
    if len(digit) != 1 or digit not in "0123456789*#ABCDabcd":
        raise TwilioProtocolError(f"Twilio {where}: {digit!r} is not a DTMF digit")
    return Dtmf(
        stream_sid=_str(data, "streamSid", where),
        track=_str(dtmf, "track", where, "inbound_track"),
        digit=digit.upper(),
        sequence_number=_seq(data, "dtmf"),
    )


def _parse_stop(data: JSON) -> Stop:
    stop = data.get("stop") or {}
    if not isinstance(stop, dict):
        raise TwilioProtocolError("Twilio 'stop' message: 'stop' must be an object")
    where = "'stop' message"
    return Stop(
        stream_sid=_str(data, "streamSid", where, ""),
        call_sid=_str(stop, "callSid", where, ""),
        account_sid=_str(stop, "accountSid", where, ""),
        sequence_number=_seq(data, "stop"),
    )


_PARSERS: Final[dict[str, Callable[[JSON], TwilioMessage]]] = {
    "media": _parse_media,
    "mark": _parse_mark,
    "start": _parse_start,
    "connected": _parse_connected,
    "dtmf": _parse_dtmf,
    "stop": _parse_stop,
}


def parse_message(raw: str | bytes) -> TwilioMessage:
    """Parse one WebSocket text frame from Twilio.

    Raises :class:`TwilioProtocolError` for anything malformed and :class:`UnknownTwilioEvent` (a
    subclass) for an ``event`` this module does not handle.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TwilioProtocolError(f"Twilio message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TwilioProtocolError("Twilio message must be a JSON object")
    event = data.get("event")
    if not isinstance(event, str):
        raise TwilioProtocolError("Twilio message has no string 'event' field")
    parser = _PARSERS.get(event)
    if parser is None:
        raise UnknownTwilioEvent(event)
    return parser(data)


# -- building --------------------------------------------------------------------------------------


def b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


@dataclass(frozen=True, slots=True)
class TwilioOutbound:
    """Builds the messages the app sends on one stream (section 18.2) as JSON text."""

    stream_sid: str
    _media_head: str = field(init=False, repr=False)
    _mark_head: str = field(init=False, repr=False)
    _clear: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.stream_sid:
            raise ValueError("a Twilio stream sid is required")
        sid = orjson.dumps(self.stream_sid).decode()
        # Base64 text never needs JSON escaping, so the payload can be spliced in verbatim.
        object.__setattr__(
            self, "_media_head", '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        )
        object.__setattr__(self, "_mark_head", '{"event":"mark","streamSid":' + sid + ',"mark":{"name":')
        object.__setattr__(self, "_clear", '{"event":"clear","streamSid":' + sid + "}")

    def media(self, audio: bytes) -> str:
        """A ``media`` message playing raw mu-law 8 kHz ``audio``."""
        return self._media_head + b64encode(audio) + '"}}'

    def mark(self, name: str) -> str:
        if not name:
            raise ValueError("a Twilio mark needs a name")
        return self._mark_head + orjson.dumps(name).decode() + "}}"

    def clear(self) -> str:
        return self._clear


def media_message(stream_sid: str, audio: bytes) -> str:
    return TwilioOutbound(stream_sid).media(audio)


def mark_message(stream_sid: str, name: str) -> str:
    return TwilioOutbound(stream_sid).mark(name)


def clear_message(stream_sid: str) -> str:
    return TwilioOutbound(stream_sid).clear()
