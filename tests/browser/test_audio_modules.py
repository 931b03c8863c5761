"""The page's audio modules on their own, inside Chromium: the capture worklet's resampling, the PCM16
codec, and the player's bookkeeping of what was heard (driven by a fake clock)."""

from __future__ import annotations

import base64
import math
import struct

import pytest

from browser.pagekit import OpenClient

# Renders one second of a sine (amplitude 0.5) at `rate` through the capture worklet, offline.
CAPTURE = """async ([rate, frequency]) => {
    const context = new OfflineAudioContext(1, rate, rate);
    await context.audioWorklet.addModule(new URL("client/audio-worklet.js", location.href));
    const node = new AudioWorkletNode(context, "pcm16-capture", {
        numberOfOutputs: 0,
        processorOptions: { targetRate: 24000, batchMs: 60 },
    });
    const batches = [];
    node.port.onmessage = (message) => batches.push(message.data);
    const tone = context.createOscillator();
    tone.frequency.value = frequency;
    const gain = context.createGain();
    gain.gain.value = 0.5;
    tone.connect(gain).connect(node);
    tone.start();
    await context.startRendering();
    node.port.postMessage("flush");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const samples = batches.flatMap((b) => Array.from(b.samples));
    const steady = samples.slice(2400);  // skip the filter's start-up
    let crossings = 0;
    for (let i = 1; i < steady.length; i++) if ((steady[i - 1] < 0) !== (steady[i] < 0)) crossings++;
    const rms = Math.sqrt(steady.reduce((a, s) => a + (s / 32768) ** 2, 0) / steady.length);
    return {
        count: samples.length,
        steady: steady.length,
        sizes: batches.map((b) => b.samples.length),
        crossings,
        rms,
    };
}"""


@pytest.mark.parametrize("rate", [48_000, 44_100, 16_000])
async def test_capture_worklet_resamples_to_pcm16_24k(open_client: OpenClient, rate: int) -> None:
    client = await open_client()
    result = await client.page.evaluate(CAPTURE, [rate, 1000])
    rendered = math.ceil(rate / 128) * 128  # whole render quanta: a bit over one second
    assert abs(result["count"] - rendered * 24_000 / rate) <= 2  # that much audio at 24 kHz
    assert set(result["sizes"][:-1]) == {1440}  # in 60 ms batches
    assert abs(result["crossings"] - 2 * 1000 * result["steady"] / 24_000) <= 2  # still a 1 kHz tone
    assert result["rms"] == pytest.approx(0.5 / 2**0.5, rel=0.03)  # level kept, no aliasing gain


async def test_capture_worklet_filters_what_24k_cannot_carry(open_client: OpenClient) -> None:
    client = await open_client()
    result = await client.page.evaluate(CAPTURE, [48_000, 16_000])
    # 16 kHz is above the 12 kHz Nyquist limit: without the low-pass it would alias to 8 kHz at full level.
    assert result["rms"] < 0.01


async def test_pcm16_base64_round_trip(open_client: OpenClient) -> None:
    client = await open_client()
    result = await client.page.evaluate(
        """async () => {
            const audio = await import(new URL("client/audio.js", location.href));
            const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234, -4321]);
            const b64 = audio.pcm16ToBase64(pcm);
            return { b64, back: Array.from(audio.base64ToFloat32(b64), (x) => Math.round(x * 32768)) };
        }"""
    )
    samples = [0, 1, -1, 32767, -32768, 1234, -4321]
    assert result["b64"] == base64.b64encode(struct.pack(f"<{len(samples)}h", *samples)).decode()
    assert result["back"] == samples


PLAYER = """async () => {
    const { Player } = await import(new URL("client/audio.js", location.href));
    const sources = [];
    const context = {
        currentTime: 0,
        outputLatency: 0,
        destination: {},
        createGain: () => ({ connect() {} }),
        createBuffer: () => ({ copyToChannel() {} }),
        createBufferSource() {
            const source = {
                connect() {},
                disconnect() {},
                start(at) { this.at = at; },
                stop() { this.stopped = true; },
            };
            sources.push(source);
            return source;
        },
    };
    const player = new Player(context, { rate: 24000, leadSeconds: 0.05 });
    const ms = (n) => new Float32Array(24 * n);
    const log = {};
    player.enqueue("a", ms(100));
    player.enqueue("a", ms(100));
    log.starts = sources.map((s) => s.at);
    context.currentTime = 0.2;
    log.playing = player.playing;
    log.heard = player.heardMsOf("a");
    context.currentTime = 0.3;  // underrun: the queue ran dry at 0.25
    log.afterEnd = player.heardMsOf("a");
    log.playingAfterEnd = player.playing;
    player.enqueue("a", ms(500));
    log.lateStart = sources[2].at;
    context.currentTime = 0.45;
    log.current = player.currentItemId;
    log.cut = player.interrupt();
    log.stopped = sources.map((s) => Boolean(s.stopped));
    log.refused = player.enqueue("a", ms(100));
    log.next = player.enqueue("b", ms(100));
    log.nextStart = sources[3].at;
    log.scheduledSamples = player.scheduledSamples;
    log.playedMs = player.playedMs;
    context.outputLatency = 0.02;
    context.currentTime = 0.55;  // "b" renders from 0.5; 30 ms of it has reached the ear
    log.heardWithLatency = player.heardMsOf("b");
    return log;
}"""


async def test_player_schedules_gap_free_and_knows_what_was_heard(open_client: OpenClient) -> None:
    client = await open_client()
    log = await client.page.evaluate(PLAYER)
    assert log["starts"] == pytest.approx([0.05, 0.15])  # back to back after the lead
    assert log["playing"] is True
    assert log["heard"] == pytest.approx(150)
    assert log["afterEnd"] == pytest.approx(200) and log["playingAfterEnd"] is False
    assert log["lateStart"] == pytest.approx(0.35)  # after an underrun: now + lead
    assert log["current"] == "a"
    assert log["cut"] == {"itemId": "a", "audioEndMs": 300}  # 200 ms + 100 ms of the late chunk
    assert log["stopped"] == [False, False, True]  # only the chunk still queued is stopped
    assert log["refused"] is False and log["next"] is True  # the cut item stays silent
    assert log["nextStart"] == pytest.approx(0.5)
    assert log["scheduledSamples"] == 24 * 800
    assert log["playedMs"] == pytest.approx(300)
    assert log["heardWithLatency"] == pytest.approx(30)
