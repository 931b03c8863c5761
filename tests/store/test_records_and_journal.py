"""Records survive the journal unchanged; the journal replays in order and survives a torn last line."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from store_testkit import at, audio_event, ended, event, started

from voxgate.store.journal import Journal
from voxgate.store.records import (
    CallRecord,
    CallStatus,
    EventBlock,
    Record,
    RecordDecodeError,
    RecordingRecord,
    ToolCallRecord,
    TranscriptRecord,
    TranscriptTruncated,
    UsageRecord,
    base64_size,
    from_json,
    strip_audio,
    to_json,
)

ONE_OF_EACH: list[Record] = [
    started("s1", channel="phone", agent="salon"),
    event("s1", 1, direction="in", nested={"a": [1, 2, {"b": None}]}),
    EventBlock(
        session_id="s1",
        first_seq=2,
        last_seq=3,
        at=at(1),
        events_json=orjson.dumps(
            [
                {
                    "seq": 2,
                    "direction": "in",
                    "type": "t",
                    "at": at(1),
                    "payload": {"type": "t", "ș": [1, None]},
                },
                {"seq": 3, "direction": "out", "type": "u", "at": at(2), "payload": {"type": "u"}},
            ]
        ),
    ),
    TranscriptRecord(
        session_id="s1", item_id="i1", role="user", text="Bună ziua, vreau o programare", seq=1, at=at(1)
    ),
    TranscriptTruncated(
        session_id="s1", item_id="i2", text="Sigur, pentru", audio_end_ms=1500, seq=2, at=at(2)
    ),
    ToolCallRecord(
        session_id="s1",
        call_id="call_1",
        name="get_available_services",
        arguments={"category": "păr"},
        result=[{"name": "Tuns", "price": "80.00"}],
        ok=True,
        duration_ms=12.5,
        at=at(3),
    ),
    UsageRecord(
        session_id="s1", response_id="resp_1", at=at(4), input_tokens=10, output_tokens=5, cost_usd=0.0012
    ),
    CallRecord(call_sid="CA1", from_number="+40722123456", to_number="+40311234567", started_at=at(0)),
    CallStatus(call_sid="CA1", status="completed", at=at(60), duration_s=60, details={"SequenceNumber": "3"}),
    RecordingRecord(session_id="s1", item_id="i2", path="recordings/s1/i2.wav", at=at(5), role="assistant"),
    ended("s1"),
]


@pytest.mark.parametrize("record", ONE_OF_EACH, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_json(record: Record) -> None:
    line = to_json(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert from_json(line) == record


@pytest.mark.parametrize(
    "line", [b"", b"{", b'{"kind": "Nope", "data": {}}', b'{"kind": "EventRecord", "data": {}}']
)
def test_garbage_is_a_decode_error(line: bytes) -> None:
    with pytest.raises(RecordDecodeError):
        from_json(line)


@given(st.binary(max_size=3000))
def test_audio_size_without_decoding(audio: bytes) -> None:
    assert base64_size(base64.b64encode(audio).decode()) == len(audio)


def test_audio_deltas_keep_metadata_and_size_only() -> None:
    record = audio_event("s1", 7, b"\x00\x01" * 2400)
    assert record.payload == {"type": "response.output_audio.delta", "item_id": "item_a", "audio_bytes": 4800}
    append = strip_audio({"type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()})
    assert append == {"type": "input_audio_buffer.append", "audio_bytes": 3}
    text = {"type": "response.output_text.delta", "delta": "hello"}
    assert strip_audio(text) == text


def test_usage_from_a_response_done() -> None:
    usage = {
        "total_tokens": 300,
        "input_tokens": 200,
        "output_tokens": 100,
        "input_token_details": {"text_tokens": 50, "audio_tokens": 150, "cached_tokens": 64},
        "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
    }
    record = UsageRecord.from_usage("s1", "resp_1", usage, at(1), cost_usd=0.01)
    assert (record.input_tokens, record.output_tokens, record.cached_tokens) == (200, 100, 64)
    assert (record.input_text_tokens, record.input_audio_tokens) == (50, 150)
    assert (record.output_text_tokens, record.output_audio_tokens) == (20, 80)
    assert UsageRecord.from_usage("s1", "r", {}, at(1)).input_tokens == 0


async def test_journal_appends_reads_in_order_and_removes_itself(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "spill" / "voxgate.journal")
    await journal.append([event("s1", n) for n in range(5)])
    await journal.append([event("s1", n) for n in range(5, 8)])
    assert journal.pending == 8

    first = await journal.read(3)
    assert [e.record for e in first] == [event("s1", n) for n in range(3)]
    assert await journal.read(3) == first  # nothing moves until advance()
    journal.advance(first)
    rest = await journal.read(100)
    assert [e.record for e in rest] == [event("s1", n) for n in range(3, 8)]
    assert not await journal.remove_if_drained()
    journal.advance(rest)
    assert journal.pending == 0
    assert await journal.remove_if_drained()
    assert not journal.path.exists()

    await journal.append([event("s1", 99)])  # a new file after removal
    assert [e.record for e in await journal.read(10)] == [event("s1", 99)]


async def test_a_torn_last_line_is_one_unreadable_entry(tmp_path: Path) -> None:
    path = tmp_path / "voxgate.journal"
    path.write_bytes(to_json(event("s1", 1)) + to_json(event("s1", 2))[:20])
    journal = Journal(path)
    assert await journal.load() == 2
    await journal.append([event("s1", 3)])
    entries = await journal.read(10)
    assert [e.record for e in entries] == [event("s1", 1), None, event("s1", 3)]


async def test_prepend_puts_records_before_what_is_left(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "voxgate.journal")
    await journal.append([event("s1", n) for n in (3, 4, 5)])
    journal.advance(await journal.read(1))  # 3 was written
    await journal.prepend([event("s1", 1), event("s1", 2)])
    assert journal.pending == 4
    assert [e.record for e in await journal.read(10)] == [event("s1", n) for n in (1, 2, 4, 5)]
