"""What one 20 ms telephone frame costs on each audio path, and whether frame edges click.

``run_codec_bench`` times, per 20 ms frame: G.711 mu-law decode and encode; soxr streaming
resampling (8k -> 24k and 24k -> 8k, filter state kept across frames); soxr one-shot resampling of
each frame on its own; ``audioop.ratecv``; and the whole :mod:`voxgate.protocol.phone` paths
(passthrough and transcoding, in and out) including base64 and Twilio JSON (outbound, each
delta's mark is echoed back as Twilio would). It also resamples a
continuous sine frame by frame and reports the largest sample step at frame edges against the
largest step inside frames and the pure sine's own largest step: a streaming resampler stays at
the sine's step, a per-frame one-shot resampler jumps at every edge (an audible click 50 times a
second). The CLI (``voxgate bench codec``) prints :func:`format_table` and can write the dict as JSON.
"""

from __future__ import annotations

import base64
import math
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from voxgate.protocol.audio import AudioFormat, StreamingResampler, pcm16_to_ulaw, ulaw_to_pcm16
from voxgate.protocol.phone import PhoneCall, PhoneConfig, SendToTwilio
from voxgate.protocol.twilio import MediaFormat, Start, parse_message

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_MS = 20
RATE_8K = 8000
RATE_24K = 24000
SAMPLES_8K = RATE_8K * FRAME_MS // 1000
SAMPLES_24K = RATE_24K * FRAME_MS // 1000
SINE_HZ = 440.0
SINE_AMPLITUDE = 12000.0


def _sine(rate: int, seconds: float, hz: float = SINE_HZ, amplitude: float = SINE_AMPLITUDE) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.asarray(np.round(amplitude * np.sin(2 * np.pi * hz * t)), dtype=np.int16)


def _frames(signal: np.ndarray, size: int) -> list[bytes]:
    return [signal[i : i + size].tobytes() for i in range(0, len(signal) - size + 1, size)]


def _time_per_frame(step: Callable[[int], object], budget_s: float, batch: int = 50) -> dict[str, float]:
    """Call ``step(i)`` in batches until ``budget_s`` is spent; microseconds per call."""
    for i in range(min(batch, 10)):  # warm caches and lazy imports outside the measurement
        step(i)
    batch_means: list[float] = []
    calls = 0
    deadline = time.perf_counter() + budget_s
    while True:
        began = time.perf_counter_ns()
        for _ in range(batch):
            step(calls)
            calls += 1
        batch_means.append((time.perf_counter_ns() - began) / batch / 1000.0)
        if time.perf_counter() >= deadline:
            break
    batch_means.sort()
    return {
        "us_per_frame": sum(batch_means) / len(batch_means),
        "us_per_frame_median": batch_means[len(batch_means) // 2],
        "us_per_frame_best": batch_means[0],
        "frames": float(calls),
    }


def _start(stream_sid: str = "MZ" + "0" * 32) -> Start:
    return Start(stream_sid, "CA" + "0" * 32, "AC" + "0" * 32, ("inbound",), {}, MediaFormat())


def _phone(fmt: AudioFormat) -> PhoneCall:
    call = PhoneCall(PhoneConfig(input_format=fmt, output_format=fmt))
    call.on_twilio_message(_start(), 0.0)
    call.on_upstream_event({"type": "response.created", "response": {"id": "resp_bench"}}, 0.0)
    return call


def _cases() -> dict[str, Callable[[int], object]]:
    ulaw_frames = [pcm16_to_ulaw(f) for f in _frames(_sine(RATE_8K, 1.0), SAMPLES_8K)]
    pcm8_frames = [ulaw_to_pcm16(f) for f in ulaw_frames]
    pcm24_frames = _frames(_sine(RATE_24K, 1.0), SAMPLES_24K)
    n8, n24 = len(pcm8_frames), len(pcm24_frames)
    arr8 = [np.frombuffer(f, dtype=np.int16) for f in pcm8_frames]
    arr24 = [np.frombuffer(f, dtype=np.int16) for f in pcm24_frames]
    up = StreamingResampler(RATE_8K, RATE_24K)
    down = StreamingResampler(RATE_24K, RATE_8K)
    ratecv_state: dict[str, Any] = {"up": None, "down": None}

    def ratecv_up(i: int) -> bytes:
        out, ratecv_state["up"] = audioop.ratecv(
            pcm8_frames[i % n8], 2, 1, RATE_8K, RATE_24K, ratecv_state["up"]
        )
        return bytes(out)

    def ratecv_down(i: int) -> bytes:
        out, ratecv_state["down"] = audioop.ratecv(
            pcm24_frames[i % n24], 2, 1, RATE_24K, RATE_8K, ratecv_state["down"]
        )
        return bytes(out)

    media_texts = [
        f'{{"event":"media","sequenceNumber":"{i + 2}","media":{{"track":"inbound","chunk":"{i + 1}",'
        f'"timestamp":"{i * 20}","payload":"{base64.b64encode(f).decode()}"}},"streamSid":"MZ{"0" * 32}"}}'
        for i, f in enumerate(ulaw_frames)
    ]
    media_msgs = [parse_message(t) for t in media_texts]

    def delta(frames: list[bytes]) -> list[dict[str, Any]]:
        return [
            {
                "type": "response.output_audio.delta",
                "response_id": "resp_bench",
                "item_id": "item_bench",
                "output_index": 0,
                "content_index": 0,
                "delta": base64.b64encode(f).decode(),
            }
            for f in frames
        ]

    ulaw_deltas, pcm_deltas = delta(ulaw_frames), delta(pcm24_frames)
    passthrough, transcoding = _phone("audio/pcmu"), _phone("audio/pcm")

    def play_out(call: PhoneCall, deltas: list[dict[str, Any]]) -> Callable[[int], object]:
        # Echo each mark as Twilio would, so the playback queue stays at its steady-state length.
        def step(i: int) -> object:
            actions = call.on_upstream_event(deltas[i % len(deltas)], i * 0.02)
            last = actions[-1] if actions else None
            if isinstance(last, SendToTwilio) and '"event":"mark"' in last.text:
                call.on_twilio_message(parse_message(last.text), i * 0.02)
            return actions

        return step

    return {
        "mulaw_decode": lambda i: audioop.ulaw2lin(ulaw_frames[i % n8], 2),
        "mulaw_encode": lambda i: audioop.lin2ulaw(pcm8_frames[i % n8], 2),
        "soxr_stream_8k_to_24k": lambda i: up.process(pcm8_frames[i % n8]),
        "soxr_stream_24k_to_8k": lambda i: down.process(pcm24_frames[i % n24]),
        "soxr_oneshot_8k_to_24k": lambda i: soxr.resample(arr8[i % n8], RATE_8K, RATE_24K),
        "soxr_oneshot_24k_to_8k": lambda i: soxr.resample(arr24[i % n24], RATE_24K, RATE_8K),
        "audioop_ratecv_8k_to_24k": ratecv_up,
        "audioop_ratecv_24k_to_8k": ratecv_down,
        "twilio_parse_media": lambda i: parse_message(media_texts[i % n8]),
        "phone_passthrough_in": lambda i: passthrough.on_twilio_message(media_msgs[i % n8], i * 0.02),
        "phone_passthrough_out": play_out(passthrough, ulaw_deltas),
        "phone_transcode_in": lambda i: transcoding.on_twilio_message(media_msgs[i % n8], i * 0.02),
        "phone_transcode_out": play_out(transcoding, pcm_deltas),
    }


def _edge_report(chunks: list[np.ndarray], sine_step: float) -> dict[str, float]:
    """Largest sample-to-sample step across frame edges and inside frames."""
    edge = 0.0
    inner = 0.0
    previous: np.ndarray | None = None
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        wide = chunk.astype(np.int32)
        if len(wide) > 1:
            inner = max(inner, float(np.abs(np.diff(wide)).max()))
        if previous is not None:
            edge = max(edge, float(abs(int(wide[0]) - int(previous[-1]))))
        previous = wide
    return {"max_edge_step": edge, "max_inner_step": inner, "edge_step_vs_sine": edge / sine_step}


def continuity(seconds: float = 1.0) -> dict[str, Any]:
    """Frame-by-frame resampling of a continuous sine: streaming vs one-shot per frame vs ratecv."""
    report: dict[str, Any] = {"sine_hz": SINE_HZ, "amplitude": SINE_AMPLITUDE}
    for name, rate_in, rate_out, size in (
        ("8k_to_24k", RATE_8K, RATE_24K, SAMPLES_8K),
        ("24k_to_8k", RATE_24K, RATE_8K, SAMPLES_24K),
    ):
        signal = _sine(rate_in, seconds)
        frames = [signal[i : i + size] for i in range(0, len(signal) - size + 1, size)]
        sine_step = 2 * SINE_AMPLITUDE * math.sin(math.pi * SINE_HZ / rate_out)
        stream = StreamingResampler(rate_in, rate_out)
        streamed = [np.frombuffer(stream.process(f.tobytes()), dtype=np.int16) for f in frames]
        # Streaming output comes in bursts, so its "frames" are the bursts; compare on real edges.
        oneshot = [np.asarray(soxr.resample(f, rate_in, rate_out), dtype=np.int16) for f in frames]
        state: Any = None
        ratecv: list[np.ndarray] = []
        for f in frames:
            out, state = audioop.ratecv(f.tobytes(), 2, 1, rate_in, rate_out, state)
            ratecv.append(np.frombuffer(out, dtype=np.int16))
        report[name] = {
            "sine_max_step": sine_step,
            "soxr_stream": _edge_report(streamed, sine_step),
            "soxr_oneshot_per_frame": _edge_report(oneshot, sine_step),
            "audioop_ratecv": _edge_report(ratecv, sine_step),
        }
    return report


def run_codec_bench(seconds: float = 5.0) -> dict[str, Any]:
    """Time every case for an equal share of ``seconds``; no assertions, numbers only."""
    cases = _cases()
    budget = max(seconds, 0.0) / len(cases)
    results = {name: _time_per_frame(step, budget) for name, step in cases.items()}
    return {
        "benchmark": "codec",
        "frame_ms": FRAME_MS,
        "seconds": seconds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "continuity": continuity(),
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"codec benchmark: cost per {result['frame_ms']} ms frame "
        f"(python {result['python']}, {result['machine']}, {result['seconds']:g}s)",
        f"{'case':<28} {'mean us':>10} {'median us':>10} {'best us':>10} {'frames':>9}",
    ]
    for name, row in result["results"].items():
        lines.append(
            f"{name:<28} {row['us_per_frame']:>10.2f} {row['us_per_frame_median']:>10.2f} "
            f"{row['us_per_frame_best']:>10.2f} {int(row['frames']):>9}"
        )
    cont = result["continuity"]
    lines.append("")
    lines.append(
        f"frame-edge continuity: {cont['sine_hz']:g} Hz sine, largest sample step at frame edges "
        "(x = multiple of the sine's own largest step; ~1 is seamless)"
    )
    for direction in ("8k_to_24k", "24k_to_8k"):
        row = cont[direction]
        cells = ", ".join(
            f"{method} {row[method]['max_edge_step']:.0f} ({row[method]['edge_step_vs_sine']:.2f}x)"
            for method in ("soxr_stream", "soxr_oneshot_per_frame", "audioop_ratecv")
        )
        lines.append(f"  {direction:<10} sine step {row['sine_max_step']:.0f}: {cells}")
    return "\n".join(lines)
