"""Client audio appends are held briefly and sent upstream as one, without losing or reordering audio.

Checked at the simulator's end: after a commit, ``conversation.item.retrieve`` returns the user item
with the audio the upstream received, which must be every byte the client appended, in order.
"""

from __future__ import annotations

import asyncio
import base64

import numpy as np

from realtime_testkit import Client, connect


def _chunk(index: int, size: int) -> bytes:
    return bytes((index * 31 + offset) % 251 for offset in range(size))


async def _open(gateway_url: str, audio_format: str) -> Client:
    client = await connect(f"{gateway_url}/v1/realtime?agent=bartender")
    await client.until("session.updated")
    await client.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"format": {"type": audio_format}, "turn_detection": None}},
            },
        }
    )
    await client.until("session.updated")
    return client


async def _received_upstream(client: Client) -> bytes:
    await client.send({"type": "input_audio_buffer.commit"})
    committed = await client.until("input_audio_buffer.committed")
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    retrieved = await client.until("conversation.item.retrieved")
    part = retrieved["item"]["content"][0]
    return base64.b64decode(part["audio"])


async def test_pcm_appends_reach_the_upstream_whole_and_in_order(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_AUDIO_BATCH_MS="60")
    client = await _open(gateway.ws, "audio/pcm")
    chunks = [_chunk(index, 960) for index in range(40)]  # 40 x 20 ms, sent at real-time pace
    for chunk in chunks:
        await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})
        await asyncio.sleep(0.02)
    assert await _received_upstream(client) == b"".join(chunks)
    assert not [e for e in client.received if e["type"] == "error"]
    await client.ws.close()


async def test_padded_g711_appends_are_merged_without_corrupting_audio(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_AUDIO_BATCH_MS="100")
    client = await _open(gateway.ws, "audio/pcmu")
    chunks = [_chunk(index, 160) for index in range(25)]  # 160 bytes: base64 with "==" padding
    for chunk in chunks:
        await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})
    assert await _received_upstream(client) == b"".join(chunks)
    await client.ws.close()


async def test_held_audio_is_sent_when_the_client_goes_quiet(make_gateway) -> None:
    """No further event follows the burst: the window's timer sends it, and server VAD hears speech."""
    gateway = await make_gateway(VOXGATE_AUDIO_BATCH_MS="200")
    client = await connect(f"{gateway.ws}/v1/realtime?agent=bartender")
    await client.until("session.updated")
    tone = (np.sin(np.arange(24_000 * 0.6) * 2 * np.pi * 440 / 24_000) * 20_000).astype("<i2").tobytes()
    for start in range(0, len(tone), 960):
        chunk = base64.b64encode(tone[start : start + 960]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": chunk})
    started = await client.until("input_audio_buffer.speech_started", timeout=5)
    assert started["audio_start_ms"] <= 100
    await client.ws.close()


async def test_batching_off_forwards_each_append(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_AUDIO_BATCH_MS="0")
    client = await _open(gateway.ws, "audio/pcm")
    chunks = [_chunk(index, 960) for index in range(10)]
    for chunk in chunks:
        await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk).decode()})
    assert await _received_upstream(client) == b"".join(chunks)
    await client.ws.close()
