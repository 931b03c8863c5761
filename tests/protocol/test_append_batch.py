"""Held client audio appends become one append with the same audio, in order."""

from __future__ import annotations

import base64

import orjson

from voxgate.protocol.append_batch import MAX_HELD_CHARS, AppendBatch


def _chunks(size: int, count: int) -> list[bytes]:
    return [bytes((index * 7 + offset) % 256 for offset in range(size)) for index in range(count)]


def _merged_audio(batch: AppendBatch) -> tuple[dict[str, str], bytes]:
    event = orjson.loads(batch.take())
    return event, base64.b64decode(event["audio"], validate=True)


def test_unpadded_chunks_join_into_one_append_in_order() -> None:
    chunks = _chunks(960, 3)  # 20 ms of PCM16 at 24 kHz: a multiple of three bytes, no padding
    batch = AppendBatch()
    for index, chunk in enumerate(chunks):
        batch.add(base64.b64encode(chunk).decode(), f"evt_{index}", now=index * 0.02)
    assert batch.chunks == 3 and batch.started_at == 0.0
    event, audio = _merged_audio(batch)
    assert event["type"] == "input_audio_buffer.append"
    assert event["event_id"] == "evt_0"  # the first chunk's id: upstream errors point at the batch's start
    assert audio == b"".join(chunks)
    assert not batch and batch.chars == 0


def test_padded_chunks_are_decoded_and_encoded_again() -> None:
    chunks = _chunks(160, 4)  # 20 ms of G.711 at 8 kHz: 160 bytes, base64 ends in "=="
    batch = AppendBatch()
    for chunk in chunks:
        batch.add(base64.b64encode(chunk).decode(), None, now=0.0)
    event, audio = _merged_audio(batch)
    assert "event_id" not in event
    assert audio == b"".join(chunks)
    assert "=" not in event["audio"][:-2]


def test_a_batch_is_full_past_its_character_bound() -> None:
    batch = AppendBatch()
    chunk = base64.b64encode(bytes(48_000)).decode()  # one second of PCM16
    while not batch.full:
        batch.add(chunk, None, now=0.0)
    assert batch.chars >= MAX_HELD_CHARS
    assert batch.chunks == -(-MAX_HELD_CHARS // len(chunk))
