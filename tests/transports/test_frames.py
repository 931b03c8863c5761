"""The frame splitter against websockets' own parser: whatever the bytes and however they are cut, the
splitter and the websockets protocol it hands frames to deliver exactly what websockets alone would."""

from __future__ import annotations

import itertools
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Close, Frame, Opcode
from websockets.protocol import CLIENT, OPEN, SERVER, Protocol

from voxgate.transports.frames import PASS, FrameSplitter, at_frame_boundary, text_frame_head


def _wire(frames: list[Frame], *, masked: bool) -> bytes:
    return b"".join(frame.serialize(mask=masked) for frame in frames)


def _through(splitter: FrameSplitter, chunks: list[bytes], side: object) -> tuple[list[Frame], Protocol]:
    """Feed ``chunks`` to the splitter and hand its PASS bytes to websockets: the frames in the order
    they came out, whichever parser produced them (a message cut out whole as one final frame), and
    the websockets protocol."""
    protocol = Protocol(side, state=OPEN, max_size=None)  # type: ignore[arg-type]
    received: list[Frame] = []
    for chunk in chunks:
        for opcode, payload in splitter.feed(chunk):
            if opcode != PASS:
                received.append(Frame(Opcode(opcode), payload))
                continue
            protocol.receive_data(payload)
            for event in protocol.events_received():
                assert isinstance(event, Frame)
                received.append(event)
    return received, protocol


def _cuts(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


PAYLOAD_LENGTHS = st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 65537]) | st.integers(0, 2000)
DATA_FRAME = st.builds(
    lambda opcode, length, seed: Frame(opcode, bytes((seed + i) % 251 for i in range(length))),
    st.sampled_from([OP_TEXT, OP_BINARY]),
    PAYLOAD_LENGTHS,
    st.integers(0, 250),
)
CONTROL_FRAME = st.builds(
    lambda opcode, data: Frame(opcode, data), st.sampled_from([OP_PING, OP_PONG]), st.binary(max_size=125)
)


@st.composite
def _fragmented(draw: st.DrawFn) -> list[Frame]:
    opcode = draw(st.sampled_from([OP_TEXT, OP_BINARY]))
    parts = draw(st.lists(st.binary(max_size=300), min_size=2, max_size=4))
    frames = [Frame(opcode, parts[0], fin=False)]
    frames += [Frame(OP_CONT, part, fin=False) for part in parts[1:-1]]
    frames.append(Frame(OP_CONT, parts[-1], fin=True))
    return frames


STREAM = st.lists(
    DATA_FRAME.map(lambda f: [f]) | CONTROL_FRAME.map(lambda f: [f]) | _fragmented(), max_size=12
).map(lambda groups: [frame for group in groups for frame in group])


def _messages(frames: list[Frame]) -> list[object]:
    """Whole messages as ``(opcode, payload)`` (fragments joined), pings and pongs as ``(name, data)``."""
    out: list[object] = []
    fragments: list[bytes] = []
    first = OP_TEXT
    for frame in frames:
        if frame.opcode in (OP_PING, OP_PONG):
            out.append((frame.opcode.name, frame.data))
            continue
        if frame.opcode is not OP_CONT:
            first = frame.opcode
        fragments.append(bytes(frame.data))
        if frame.fin:
            out.append((int(first), b"".join(fragments)))
            fragments = []
    return out


@settings(max_examples=150, deadline=None)
@given(frames=STREAM, points=st.lists(st.integers(0, 10**6), max_size=8), masked=st.booleans())
def test_any_stream_cut_anywhere_yields_what_websockets_alone_would(
    frames: list[Frame], points: list[int], masked: bool
) -> None:
    wire = _wire(frames, masked=masked)
    splitter = FrameSplitter(masked=masked, max_size=None)
    received, protocol = _through(splitter, _cuts(wire, points), SERVER if masked else CLIENT)
    assert _messages(received) == _messages(frames)
    assert not splitter.stopped and protocol.parser_exc is None
    assert at_frame_boundary(protocol)


def test_whole_messages_are_cut_out_and_unmasked_without_websockets() -> None:
    frames = [Frame(OP_TEXT, b'{"type":"input_audio_buffer.append"}'), Frame(OP_BINARY, os.urandom(70_000))]
    splitter = FrameSplitter(masked=True, max_size=None)
    out = splitter.feed(_wire(frames, masked=True))
    assert out == [(1, frames[0].data), (2, frames[1].data)]


def test_an_incomplete_frame_waits_and_take_rest_gives_it_back() -> None:
    wire = _wire([Frame(OP_TEXT, b"x" * 300)], masked=True)
    splitter = FrameSplitter(masked=True, max_size=None)
    assert splitter.feed(wire[:100]) == []
    assert splitter.take_rest() == wire[:100]
    assert splitter.stopped
    assert splitter.feed(wire[100:]) == [(PASS, wire[100:])]


def test_a_close_frame_stops_the_splitter_and_everything_after_it_goes_to_websockets() -> None:
    close = Frame(OP_CLOSE, Close(1000, "bye").serialize())
    after = Frame(OP_TEXT, b"late")
    before = _wire([Frame(OP_TEXT, b"before")], masked=True)
    rest = _wire([close, after], masked=True)
    splitter = FrameSplitter(masked=True, max_size=None)
    out = splitter.feed(before + rest)
    assert out == [(1, b"before"), (PASS, rest)]
    assert splitter.stopped
    assert splitter.feed(b"more") == [(PASS, b"more")]


def test_a_frame_over_the_limit_is_handed_over_on_its_header_alone() -> None:
    header = text_frame_head(10_000, masked=True) + b"abcd"
    splitter = FrameSplitter(masked=True, max_size=4096)
    assert splitter.feed(header) == [(PASS, header)]
    assert splitter.stopped
    protocol = Protocol(SERVER, state=OPEN, max_size=4096)
    protocol.receive_data(header)
    assert protocol.close_sent is not None and protocol.close_sent.code == 1009


def test_protocol_errors_are_left_to_websockets() -> None:
    unmasked = _wire([Frame(OP_TEXT, b"hi")], masked=False)
    reserved_bit = bytes([unmasked[0] | 0x40]) + unmasked[1:]
    stray_continuation = _wire([Frame(OP_CONT, b"x")], masked=False)
    for wire, masked in ((unmasked, True), (reserved_bit, False), (stray_continuation, False)):
        splitter = FrameSplitter(masked=masked, max_size=None)
        assert splitter.feed(wire) == [(PASS, wire)]
        assert splitter.stopped
        protocol = Protocol(SERVER if masked else CLIENT, state=OPEN, max_size=None)
        protocol.receive_data(wire)
        assert protocol.close_sent is not None and protocol.close_sent.code == 1002


def test_a_data_frame_inside_a_fragmented_message_is_left_to_websockets() -> None:
    wire = _wire([Frame(OP_TEXT, b"part", fin=False), Frame(OP_TEXT, b"whole")], masked=False)
    splitter = FrameSplitter(masked=False, max_size=None)
    out = splitter.feed(wire)
    assert [opcode for opcode, _ in out] == [PASS, PASS]
    assert splitter.stopped


def test_at_frame_boundary_sees_a_header_read_and_a_partial_buffer() -> None:
    protocol = Protocol(SERVER, state=OPEN, max_size=None)
    assert at_frame_boundary(protocol)
    wire = _wire([Frame(OP_TEXT, b"hello")], masked=True)
    protocol.receive_data(wire[:1])
    assert not at_frame_boundary(protocol)  # a byte waits in the buffer
    protocol.receive_data(wire[1:2])
    assert not at_frame_boundary(protocol)  # the header is read, the buffer is empty, the payload is due
    protocol.receive_data(wire[2:])
    assert at_frame_boundary(protocol)


@given(length=PAYLOAD_LENGTHS)
def test_text_frame_heads_read_back_with_websockets(length: int) -> None:
    payload = b"a" * length
    protocol = Protocol(CLIENT, state=OPEN, max_size=None)
    protocol.receive_data(text_frame_head(length, masked=False) + payload)
    [frame] = protocol.events_received()
    assert isinstance(frame, Frame) and (frame.opcode, frame.fin, frame.data) == (OP_TEXT, True, payload)
