"""Twilio Media Streams messages: the examples of protocol-reference section 18, parsed and built."""

from __future__ import annotations

import base64
from collections.abc import Callable

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxgate.protocol.twilio import (
    Connected,
    Dtmf,
    Mark,
    Media,
    MediaFormat,
    Start,
    Stop,
    TwilioOutbound,
    TwilioProtocolError,
    UnknownTwilioEvent,
    _parse_media,
    _parse_media_checked,
    clear_message,
    mark_message,
    media_message,
    parse_message,
)

SID = "MZ00112233445566778899aabbccddeeff"
CALL = "CAfedcba9876543210fedcba9876543210"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"


def test_connected() -> None:
    msg = parse_message('{ "event": "connected", "protocol": "Call", "version": "1.0.0" }')
    assert msg == Connected(protocol="Call", version="1.0.0")


def test_start() -> None:
    raw = orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "accountSid": ACCOUNT,
                "streamSid": SID,
                "callSid": CALL,
                "tracks": ["inbound"],
                "customParameters": {"tenant": "acme", "callerNumber": "+14155550123"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": SID,
        }
    )
    msg = parse_message(raw)
    assert msg == Start(
        stream_sid=SID,
        call_sid=CALL,
        account_sid=ACCOUNT,
        tracks=("inbound",),
        custom_parameters={"tenant": "acme", "callerNumber": "+14155550123"},
        media_format=MediaFormat("audio/x-mulaw", 8000, 1),
        sequence_number=1,
    )


def test_media_payload_is_decoded_and_numbers_parsed() -> None:
    payload = base64.b64encode(b"\xff" * 160).decode()
    raw = (
        '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"0",'
        f'"payload":"{payload}"}},"streamSid":"{SID}"}}'
    )
    msg = parse_message(raw)
    assert msg == Media(
        stream_sid=SID, track="inbound", chunk=1, timestamp=0, audio=b"\xff" * 160, sequence_number=2
    )


def test_media_accepts_real_numbers_from_simulators() -> None:
    raw = orjson.dumps(
        {
            "event": "media",
            "media": {"track": "inbound", "chunk": 3, "timestamp": 40, "payload": ""},
            "streamSid": SID,
        }
    )
    msg = parse_message(raw)
    assert isinstance(msg, Media)
    assert (msg.chunk, msg.timestamp, msg.audio, msg.sequence_number) == (3, 40, b"", None)


def test_mark_dtmf_stop() -> None:
    mark = parse_message(
        f'{{"event":"mark","sequenceNumber":"212","streamSid":"{SID}","mark":{{"name":"item_P0oI9uY8tR7eW6qA5sD4f:7"}}}}'
    )
    assert mark == Mark(SID, "item_P0oI9uY8tR7eW6qA5sD4f:7", 212)
    dtmf = parse_message(
        f'{{"event":"dtmf","sequenceNumber":"57","streamSid":"{SID}","dtmf":{{"track":"inbound_track","digit":"5"}}}}'
    )
    assert dtmf == Dtmf(SID, "inbound_track", "5", 57)
    stop = parse_message(
        orjson.dumps(
            {
                "event": "stop",
                "sequenceNumber": "1503",
                "stop": {"accountSid": ACCOUNT, "callSid": CALL},
                "streamSid": SID,
            }
        )
    )
    assert stop == Stop(SID, CALL, ACCOUNT, 1503)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"streamSid": "MZ1"}', "'event'"),
        ('{"event": 5}', "'event'"),
        ('{"event": "media", "streamSid": "MZ1"}', "no 'media' object"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"track": "inbound"}}', "'payload'"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"payload": "@@@@"}}', "base64"),
        ('{"event": "media", "media": {"payload": ""}}', "'streamSid'"),
        ('{"event": "media", "streamSid": "MZ1", "media": {"payload": "", "chunk": "x"}}', "'chunk'"),
        (
            '{"event": "media", "streamSid": "MZ1", "media": {"payload": "", "timestamp": true}}',
            "'timestamp'",
        ),
        ('{"event": "mark", "streamSid": "MZ1"}', "no 'mark' object"),
        ('{"event": "mark", "streamSid": "MZ1", "mark": {}}', "'name'"),
        ('{"event": "dtmf", "streamSid": "MZ1", "dtmf": {"digit": "x"}}', "not a DTMF digit"),
        ('{"event": "start", "start": {"streamSid": "MZ1"}}', "'callSid'"),
        ('{"event": "start", "start": {"callSid": "CA1"}}', "'streamSid'"),
        (
            '{"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1", "tracks": "inbound"}}',
            "'tracks'",
        ),
        (
            '{"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1", '
            '"customParameters": {"a": 1}}}',
            "'customParameters'",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(TwilioProtocolError, match=message):
        parse_message(raw)


def test_unknown_event_is_a_distinct_protocol_error() -> None:
    with pytest.raises(UnknownTwilioEvent) as info:
        parse_message('{"event": "transcription", "streamSid": "MZ1"}')
    assert info.value.event == "transcription"
    assert isinstance(info.value, TwilioProtocolError)


def test_outgoing_messages_have_the_documented_shape() -> None:
    out = TwilioOutbound(SID)
    assert orjson.loads(out.media(b"\xff" * 160)) == {
        "event": "media",
        "streamSid": SID,
        "media": {
            "payload": "/" * 212 + "/w=="
        },  # 216 characters; section 19 says all "/", but the tail pads
    }
    assert orjson.loads(out.mark("item_A:500:1")) == {
        "event": "mark",
        "streamSid": SID,
        "mark": {"name": "item_A:500:1"},
    }
    assert orjson.loads(out.clear()) == {"event": "clear", "streamSid": SID}
    assert media_message(SID, b"\x00") == out.media(b"\x00")
    assert mark_message(SID, "m") == out.mark("m")
    assert clear_message(SID) == out.clear()


def test_outgoing_strings_are_escaped() -> None:
    out = TwilioOutbound('MZ"odd\\sid')
    assert orjson.loads(out.clear())["streamSid"] == 'MZ"odd\\sid'
    assert orjson.loads(out.mark('say "hi"\n'))["mark"]["name"] == 'say "hi"\n'


def test_outgoing_needs_a_stream_and_a_mark_name() -> None:
    with pytest.raises(ValueError):
        TwilioOutbound("")
    with pytest.raises(ValueError):
        TwilioOutbound(SID).mark("")


def test_a_sent_mark_parses_as_its_echo() -> None:
    echoed = parse_message(TwilioOutbound(SID).mark("item_A:1500:2"))
    assert echoed == Mark(SID, "item_A:1500:2", None)


@given(st.binary(max_size=2000))
def test_media_round_trip(audio: bytes) -> None:
    # Twilio echoes nothing of ours as media, but a simulator plays our media back through the parser.
    text = TwilioOutbound(SID).media(audio)
    assert orjson.loads(text)["media"]["payload"] == base64.b64encode(audio).decode()
    msg = parse_message(text)
    assert isinstance(msg, Media)
    assert msg.audio == audio


_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.sampled_from(["0", "42", "007", "-1", "1.5", "", "x", "١٢", "inbound", "outbound"]),
    st.lists(st.integers(-5, 5), max_size=1),
)


@given(
    stream_sid=_FIELD_VALUES,
    track=_FIELD_VALUES,
    chunk=_FIELD_VALUES,
    timestamp=_FIELD_VALUES,
    sequence=_FIELD_VALUES,
    payload=st.sampled_from([base64.b64encode(b"\xff" * 160).decode(), "not base64!", "", 7]),
    omit=st.sets(st.sampled_from(["streamSid", "track", "chunk", "timestamp", "sequenceNumber"])),
)
def test_media_fast_path_agrees_with_the_checked_one(
    stream_sid: object, track: object, chunk: object, timestamp: object, sequence: object, payload: object,
    omit: set[str],
) -> None:  # fmt: skip
    media = {"track": track, "chunk": chunk, "timestamp": timestamp, "payload": payload}
    message = {"event": "media", "streamSid": stream_sid, "sequenceNumber": sequence, "media": media}
    for key in omit:
        message.pop(key, None)
        media.pop(key, None)
    raw = orjson.dumps(message)

    def outcome(parse: Callable[[dict[str, object]], Media]) -> object:
        try:
            return parse(orjson.loads(raw))
        except TwilioProtocolError as exc:
            return ("error", str(exc))

    assert outcome(_parse_media) == outcome(_parse_media_checked)
