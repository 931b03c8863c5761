"""The pure parts of recording: event runs, heard text, prices, redaction, the call listener."""

from __future__ import annotations

import base64
import io
import itertools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from storekit import settled, stored_events

from integration.conftest import GatewayFactory
from realtime_testkit import connect
from voxgate.call_recording import CallRecorder
from voxgate.event_log import MAX_BLOCK_EVENTS, MAX_RUN_CHUNKS, EventLog, SealRota
from voxgate.logs import JsonFormatter
from voxgate.metrics import GatewayMetrics
from voxgate.pricing import PriceTable, TokenPrices, usage_cost
from voxgate.protocol.calls import CallRegistry
from voxgate.recording import heard_text
from voxgate.redact import RedactingFilter, install_log_redaction, redact_payload, redact_text
from voxgate.store.records import CallRecord, CallStatus, EventBlock, Record, spliced_entry

T0 = datetime(2030, 1, 7, 12, tzinfo=UTC)


DELTA = "response.output_audio.delta"


def chunk(size: int) -> str:
    return base64.b64encode(bytes(size)).decode()


class Ticks:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> datetime:
        self.n += 1
        return T0 + timedelta(milliseconds=self.n)


class Steps:
    """A monotonic clock that moves 20 ms at each reading (an audio chunk's worth)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> float:
        self.n += 1
        return 100.0 + self.n * 0.02


def entries(records: list[Record]) -> list[dict[str, Any]]:
    """The events of the blocks submitted, checking that the blocks follow each other in seq."""
    blocks = [r for r in records if isinstance(r, EventBlock)]
    for before, after in itertools.pairwise(blocks):
        assert after.first_seq == before.last_seq + 1
    found = []
    for b in blocks:
        events = orjson.loads(b.events_json)
        assert [e["seq"] for e in events] == list(range(b.first_seq, b.last_seq + 1))
        assert b.at.isoformat() == events[0]["at"]
        found.extend(events)
    return found


def test_audio_chunks_become_runs_and_every_event_is_counted() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, lambda: T0, monotonic=lambda: 100.0)
    for n in range(3):
        append = {"type": "input_audio_buffer.append", "audio": chunk(960)}
        log.add("in", "input_audio_buffer.append", append, 100.001 + n * 0.02)
    for item, event_id, size in (("a", "e1", 480), ("a", "e2", 480), ("b", "e3", 10)):
        delta = {"type": DELTA, "item_id": item, "event_id": event_id, "delta": chunk(size)}
        log.add("out", DELTA, delta, 100.1)
    log.add("in", "input_audio_buffer.commit", {"type": "input_audio_buffer.commit"}, 100.2)
    log.close()
    events = entries(records)
    assert len(records) == 1, "one block"
    assert [(e["seq"], e["direction"], e["type"]) for e in events] == [
        (0, "in", "input_audio_buffer.append"),
        (1, "out", "response.output_audio.delta"),
        (2, "out", "response.output_audio.delta"),
        (3, "in", "input_audio_buffer.commit"),
    ]
    appends, first, second, _ = (e["payload"] for e in events)
    assert appends["audio_bytes"] == 2880 and appends["chunks"] == 3 and "audio" not in appends
    assert appends["last_at"] == (T0 + timedelta(milliseconds=1 + 40)).isoformat(), "the third chunk's time"
    assert first["item_id"] == "a" and first["chunks"] == 2 and first["audio_bytes"] == 960
    assert first["event_ids"] == ["e1", "e2"] and "delta" not in first
    assert second == {"type": DELTA, "item_id": "b", "event_id": "e3", "audio_bytes": 10, "chunks": 1}
    assert events[0]["at"] == (T0 + timedelta(milliseconds=1)).isoformat()
    assert events[3]["at"] == (T0 + timedelta(milliseconds=200)).isoformat()


def test_event_times_follow_their_ticks_and_a_new_anchor_follows_the_wall_clock() -> None:
    records: list[Record] = []
    wall = [T0]
    log = EventLog("s", records.append, lambda: wall[0], monotonic=Steps())  # anchored at tick 100.02
    log.add("in", "input_audio_buffer.commit", {"type": "input_audio_buffer.commit"}, 100.52)
    log.add("in", "response.create", {"type": "response.create"})  # now: tick 100.04
    wall[0] = T0 + timedelta(hours=1)  # the wall clock was set forward
    log.anchor()  # tick 100.06
    log.add("in", "response.cancel", {"type": "response.cancel"}, 100.07)
    log.close()
    assert [e["at"] for e in entries(records)] == [
        (T0 + timedelta(milliseconds=500)).isoformat(),
        (T0 + timedelta(milliseconds=20)).isoformat(),
        (T0 + timedelta(hours=1, milliseconds=10)).isoformat(),
    ]


def test_blocks_are_sealed_on_demand_and_when_full_and_runs_end_with_them() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks())
    log.seal()
    assert records == [], "nothing waiting: no block"
    for _ in range(3):
        log.add("in", "input_audio_buffer.append", {"type": "input_audio_buffer.append", "audio": chunk(10)})
    log.seal()
    log.add("in", "input_audio_buffer.append", {"type": "input_audio_buffer.append", "audio": chunk(10)})
    for n in range(MAX_BLOCK_EVENTS + 1):
        log.add("out", "response.output_text.delta", {"type": "response.output_text.delta", "delta": str(n)})
    log.close()
    events = entries(records)
    assert [r.last_seq - r.first_seq + 1 for r in records if isinstance(r, EventBlock)] == [
        1,
        MAX_BLOCK_EVENTS,
        2,
    ]
    assert [e["payload"].get("chunks") for e in events[:2]] == [3, 1], "the sealed run was not reopened"
    assert len(events) == MAX_BLOCK_EVENTS + 3


def test_a_long_run_is_cut_into_rows_of_bounded_size() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks())
    for _ in range(MAX_RUN_CHUNKS * 2 + 1):
        log.add("in", "input_audio_buffer.append", {"type": "input_audio_buffer.append", "audio": chunk(2)})
    log.close()
    assert [e["payload"]["chunks"] for e in entries(records)] == [50, 50, 1]


def test_other_events_of_a_direction_are_placed_inside_its_audio_run() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks())
    append = {"type": "input_audio_buffer.append", "audio": chunk(960)}
    for _ in range(2):
        log.add("in", "input_audio_buffer.append", append)
    log.add("out", DELTA, {"type": DELTA, "item_id": "a", "delta": chunk(10)})
    log.add("in", "input_audio_buffer.commit", {"type": "input_audio_buffer.commit"})
    for _ in range(3):
        log.add("in", "input_audio_buffer.append", append)
    log.add("in", "input_audio_buffer.clear", {"type": "input_audio_buffer.clear"})
    log.add("in", "input_audio_buffer.append", append)
    log.close()
    events = entries(records)
    assert [(e["seq"], e["type"]) for e in events] == [
        (0, "input_audio_buffer.append"),
        (1, DELTA),
        (2, "input_audio_buffer.commit"),
        (3, "input_audio_buffer.clear"),
    ]
    appends, delta = events[0]["payload"], events[1]["payload"]
    assert appends["chunks"] == 6 and appends["audio_bytes"] == 6 * 960
    assert appends["interleaved"] == [[2, 2], [3, 5]], "the commit came after 2 chunks, the clear after 5"
    assert "interleaved" not in delta, "events of the other direction are not placed in a run"


def test_a_chunk_is_logged_from_the_facts_read_when_it_arrived() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks())
    first = {"type": DELTA, "item_id": "a", "event_id": "e1", "response_id": "r", "delta": chunk(480)}
    log.add_chunk("out", DELTA, first, None, 480, "a", "e1")
    # The run's later chunks are not read again: what the caller read of them is what counts.
    log.add_chunk("out", DELTA, {}, None, 320, "a", "e2")
    log.add_chunk("out", DELTA, {"type": DELTA, "item_id": "b", "delta": ""}, None, 0, "b", None)
    log.close()
    runs = [e["payload"] for e in entries(records)]
    assert runs[0] == {
        "type": DELTA,
        "item_id": "a",
        "event_id": "e1",
        "response_id": "r",
        "audio_bytes": 800,
        "chunks": 2,
        "last_at": runs[0]["last_at"],
        "event_ids": ["e1", "e2"],
    }
    assert runs[1] == {"type": DELTA, "item_id": "b", "audio_bytes": 0, "chunks": 1}


def test_an_unchanged_frame_is_stored_as_received_and_anything_else_is_encoded() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks())
    text = {
        "type": "conversation.item.create",
        "event_id": "c1",
        "item": {"type": "message", "note": "café\n"},
    }
    frame = orjson.dumps(text, option=orjson.OPT_INDENT_2)  # new lines and spaces: still JSON
    log.add("in", "conversation.item.create", text, frame=frame)
    as_str = {"type": "session.update", "event_id": "u1", "session": {"instructions": "Bonjour"}}
    log.add("in", "session.update", as_str, frame=orjson.dumps(as_str).decode())
    # A frame that may nest deeper than JSON encoding goes (it only looks like it: the brackets are
    # in a string) is not spliced in; the event is encoded instead.
    brackets = {"type": "response.create", "event_id": "r1", "note": "[" * 300}
    log.add(
        "in",
        "response.create",
        brackets,
        frame=b'{ "type": "response.create", "event_id": "r1", ' + b'"note": "' + b"[" * 300 + b'" }',
    )
    log.close()
    (block,) = records
    assert isinstance(block, EventBlock)
    assert frame in block.events_json, "spliced in verbatim"
    assert b'"note": "[[[' not in block.events_json, "the deep-looking frame was encoded again"
    assert [e["payload"] for e in entries(records)] == [text, as_str, brackets]
    assert spliced_entry(0, "in", "x", T0, b"[" * 256) is None
    assert orjson.loads(spliced_entry(0, "in", "x", T0, b'{"type":"x"}') or b"") == {
        "seq": 0,
        "direction": "in",
        "type": "x",
        "at": T0.isoformat(),
        "payload": {"type": "x"},
    }


def test_a_frame_is_not_stored_as_received_when_its_content_is_masked_or_stripped() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks(), redact=True)
    said = {
        "type": "conversation.item.create",
        "item": {"type": "message", "text": "call me at 0722 123 456"},
    }
    log.add("in", "conversation.item.create", said, frame=orjson.dumps(said))
    plain = EventLog("p", records.append, Ticks())
    part = {"type": "input_audio", "audio": chunk(30)}
    with_audio = {"type": "conversation.item.create", "item": {"type": "message", "content": [part]}}
    plain.add("in", "conversation.item.create", with_audio, frame=orjson.dumps(with_audio))
    log.close()
    plain.close()
    masked, stripped = (
        orjson.loads(r.events_json)[0]["payload"] for r in records if isinstance(r, EventBlock)
    )
    assert "0722" not in orjson.dumps(masked).decode()
    assert stripped["item"]["content"] == [{"type": "input_audio", "audio_bytes": 30}]


def test_item_audio_is_stripped_and_payload_text_redacted() -> None:
    records: list[Record] = []
    log = EventLog("s", records.append, Ticks(), redact=True)
    item = {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_audio", "audio": chunk(300)},
            {"type": "input_text", "text": "call me on 0722 123 456 or ana@example.com"},
        ],
    }
    event = {"type": "conversation.item.create", "event_id": "ev_0722123456", "item": item}
    log.add("in", "conversation.item.create", event)
    log.close()
    (record,) = entries(records)
    parts = record["payload"]["item"]["content"]
    assert parts[0] == {"type": "input_audio", "audio_bytes": 300}
    assert parts[1]["text"] == "call me on [phone] or [email]"
    assert record["payload"]["event_id"] == "ev_0722123456", "ids are not text: kept"
    assert "audio" in item["content"][0], "the relayed event itself is untouched"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Sunați la 0722 123 456, vă rog", "Sunați la [phone], vă rog"),
        ("my number is +40 722-123-456.", "my number is [phone]."),
        ("(0722) 123 456", "[phone]"),
        ("CNP 1850101123456", "CNP [id-number]"),
        ("cnp 2 850101 123456 please", "cnp [id-number] please"),
        ("write to Ana.Pop+x@mail.example.ro", "write to [email]"),
        ("at 2030-01-07 14:30, table for 4, 12.50 lei", "at 2030-01-07 14:30, table for 4, 12.50 lei"),
        (
            "session vgs_12345678901234 and call CA0123456789",
            "session vgs_12345678901234 and call CA0123456789",
        ),
    ],
)
def test_redaction_masks_phones_id_numbers_and_emails(text: str, masked: str) -> None:
    assert redact_text(text) == masked


def test_redacted_payload_keeps_structure_and_ids() -> None:
    payload = {
        "type": "x",
        "item_id": "item_0722123456",
        "delta": "0722123456",
        "nested": [{"text": "a@b.co"}],
    }
    assert redact_payload(payload) == {
        "type": "x",
        "item_id": "item_0722123456",
        "delta": "[phone]",
        "nested": [{"text": "[email]"}],
    }


def test_logs_are_redacted_including_json_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("voxgate.tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        handler.addFilter(RedactingFilter())
        fields = {"caller": "+40722123456"}
        logger.warning("caller %s said %s", "+40722123456", "ana@example.com", extra={"fields": fields})
    finally:
        logger.removeHandler(handler)
    line = orjson.loads(stream.getvalue())
    assert line["message"] == "caller [phone] said [email]" and line["caller"] == "[phone]"


def test_install_log_redaction_is_idempotent() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        first = install_log_redaction([""])
        second = install_log_redaction([""])
        assert first is second and sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "audio_bytes", "end_ms", "heard"),
    [
        ("One two three four", 48 * 1000, 500, "One two"),  # half the audio: half the text, whole words
        ("One two three four", 48 * 1000, 1000, "One two three four"),
        ("One two three four", 48 * 1000, 5000, "One two three four"),
        ("One two three four", 0, 500, "One two three four"),  # no audio seen: nothing to go by
        ("Unbreakable", 48 * 1000, 500, "Unbre"),
        ("One two three four", 48 * 1000, 0, ""),
    ],
)
def test_heard_text_is_the_played_share_cut_at_a_word(
    text: str, audio_bytes: int, end_ms: int, heard: str
) -> None:
    assert heard_text(text, audio_bytes, end_ms, "audio/pcm") == heard


def test_g711_audio_is_timed_at_8_bytes_a_millisecond() -> None:
    assert heard_text("aa bb cc dd", 8 * 1000, 500, "audio/pcmu") == "aa bb"


def test_prices_per_model_with_cached_and_audio_tokens() -> None:
    usage = {
        "input_tokens": 1300,
        "output_tokens": 600,
        "input_token_details": {
            "text_tokens": 300,
            "audio_tokens": 1000,
            "cached_tokens": 500,
            "cached_tokens_details": {"text_tokens": 100, "audio_tokens": 400},
        },
        "output_token_details": {"text_tokens": 100, "audio_tokens": 500},
    }
    table = PriceTable()
    # gpt-realtime: 200*4 + 100*0.4 + 600*32 + 400*0.4 + 100*16 + 500*64 per 1M
    assert table.cost("gpt-realtime-2025-08-28", usage) == pytest.approx(0.0538, abs=1e-9)
    assert table.prices_for("gpt-realtime-mini-2025-10-06").text_in == 0.6
    assert table.prices_for("some-future-model") == table.prices_for("gpt-realtime")
    custom = PriceTable({"gpt-realtime": {"audio_out": 100.0}, "my-model": {"text_in": 1.0}})
    assert (
        custom.prices_for("gpt-realtime").audio_out == 100.0
        and custom.prices_for("gpt-realtime").text_in == 4.0
    )
    assert custom.prices_for("my-model").text_in == 1.0
    flat = TokenPrices(text_in=1, text_out=2, audio_in=0, audio_out=0, cached_text_in=0, cached_audio_in=0)
    assert usage_cost(flat, {"input_tokens": 1_000_000, "output_tokens": 500_000}) == 2.0


def test_the_call_listener_submits_statuses_once_and_observes_turn_latencies() -> None:
    records: list[Record] = []
    metrics = GatewayMetrics()
    registry = CallRegistry()
    registry.subscribe(CallRecorder(records.append, metrics).on_change)
    registry.open("CA1", at=T0, business="salon", from_number="+40722000111", to_number="+40311000222")
    registry.report_status("CA1", "ringing", at=T0, source="voice")
    registry.report_status("CA1", "ringing", at=T0, source="voice")  # a retry: no change, no record
    registry.stream_started("CA1", at=T0 + timedelta(seconds=1), stream_sid="MZ1", session_id="vgs_1")
    live = registry.get("CA1")
    assert live is not None
    live.turn_latencies_ms.extend([420.0, 610.0])
    registry.report_status(
        "CA1", "completed", at=T0 + timedelta(seconds=30), source="callback", duration_s=29
    )
    registry.finish("CA1", at=T0 + timedelta(seconds=30), end_reason="caller_hung_up", outcome="booked")

    statuses = [r for r in records if isinstance(r, CallStatus)]
    assert [(s.status, s.details["source"]) for s in statuses] == [
        ("ringing", "voice"),
        ("completed", "callback"),
    ]
    calls = [r for r in records if isinstance(r, CallRecord)]
    last = calls[-1]
    assert (last.call_sid, last.session_id, last.status) == ("CA1", "vgs_1", "completed")
    assert last.from_number == "+40722000111" and last.to_number == "+40311000222"
    assert last.duration_s == 29 and last.outcome == "booked" and last.started_at == T0
    histogram = metrics.render().decode()
    assert "voxgate_phone_turn_latency_seconds_count 2.0" in histogram
    assert "voxgate_phone_turn_latency_seconds_sum 1.03" in histogram


async def test_a_redacting_gateway_stores_no_personal_data(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway(VOXGATE_REDACT="1")
    client = await connect(f"{gateway.ws}/openai/realtime/private?agent=bartender")
    await client.until("session.updated")
    said = "I am Ana, 0722 123 456, ana@example.com, CNP 2850101123456."
    await client.say(said)
    await client.collect_until("response.done")
    await client.ws.close()
    app = gateway.app_gateway
    await settled(app)
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        (summary,) = (await http.get("/api/sessions")).json()["items"]
        detail: dict[str, Any] = (await http.get(f"/api/sessions/{summary['id']}")).json()
        export = (await http.get(f"/api/sessions/{summary['id']}/events.jsonl")).text
    assert detail["transcript"][0]["text"] == "I am Ana, [phone], [email], CNP [id-number]."
    for secret in ("0722 123 456", "ana@example.com", "2850101123456"):
        assert secret not in export and secret not in orjson.dumps(detail).decode()
    events = await stored_events(app.db, summary["id"])
    assert any("[phone]" in orjson.dumps(e.payload).decode() for e in events)


def test_the_seal_rota_takes_every_session_once_per_round_in_even_groups() -> None:
    rota: SealRota[str] = SealRota(4)
    for n in range(10):
        rota.join(f"s{n}")
    before = [rota.due() for _ in range(4)]
    assert [len(g) for g in before] == [3, 3, 2, 2]
    rota.leave("s3")
    rota.join("late")  # the smallest group now is the one s3 left
    rounds = [[rota.due() for _ in range(4)] for _ in range(2)]
    assert rounds[0] == rounds[1], "the same groups, in the same order, every round"
    groups = rounds[0]
    assert groups[3] == ["s7", "late"] and before[3] == ["s3", "s7"]
    assert sorted(k for g in groups for k in g) == sorted([f"s{n}" for n in range(10) if n != 3] + ["late"])
    rota.leave("late")
    rota.leave("nobody")  # a session that never joined (recording off) is no error
    assert "late" not in [k for _ in range(4) for k in rota.due()]
