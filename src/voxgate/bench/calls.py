"""``voxgate bench calls``: concurrent phone calls through voxgate, next to a bare relay, at real-time pace.

Child processes on loopback: the simulator in real-time pace with an emission probe
(``sim_probe``), voxgate once per audio mode (``VOXGATE_PHONE_AUDIO=pcmu`` passthrough and ``pcm``
transcoding) and the bare Twilio relay (``phone_relay``). For each call count the load generator
(this process) places N calls through each relay in turn: signed webhook and signed stream for
voxgate, the stream straight away for the bare relay. Each call speaks, waits for the agent's
answer, speaks again, for the warm-up and the measured window.

What is reported, per relay and call count:

- **CPU per call**: the relay process's CPU time (``/proc``) over the window / (calls x seconds);
  ``calls_per_core`` is its inverse.
- **Delay**: for every mark that arrived in the window, the simulator's monotonic timestamp of the
  audio delta that completed it subtracted from the mark's arrival at the simulated Twilio end. A
  mark follows its delta's frames, so this is "upstream delta leaves the simulator -> its frames
  have reached Twilio", two loopback hops and the relay in between; the bare relay has the same
  hops, so ``added`` (voxgate minus bare) is what the gateway adds.
  The mark that completes an item is left out of the delay (``tail_marks``): voxgate holds an item's
  last, partial 20 ms frame until the item's audio is done, and it plays after the frames already
  queued.
  Transcoding: soxr's stream resampler emits in blocks, so its output lags its input by 16-70 ms of
  audio; that audio leaves with the next delta, which shows in the p99 as up to one delta interval.
  Nothing is heard late as long as the upstream runs ahead of playback (it does: about 200 ms).
- **Dropped frames**: per finished assistant item, 20 ms frames the simulator produced that the
  item's last mark does not account for (interrupted items and items still streaming at hang-up
  are left out). Must be 0.
"""

from __future__ import annotations

import argparse
import bisect
import tempfile
from pathlib import Path
from typing import Any, Final

import httpx

from voxgate.bench.phone_load import LoadOutcome, Target, run_calls
from voxgate.bench.procs import Child, free_port, start_child
from voxgate.bench.report import medians, percentile, table, write_json
from voxgate.protocol.phone import parse_mark_name

AUTH_TOKEN: Final = "bench-calls-auth-token-0123456789"
GENERATOR_LAG_LIMIT_MS: Final = 20.0
BYTES_PER_MS: Final = {"passthrough": 8.0, "transcoding": 48.0}
"""The simulator's output format in each mode (the probe counts its bytes)."""


def analyse(
    outcome: LoadOutcome, emissions: dict[str, list[list[float]]], bytes_per_ms: float
) -> dict[str, Any]:
    delays: list[float] = []
    unmatched = tails = 0
    index = {
        item: ([e[0] / bytes_per_ms for e in rows], [e[1] for e in rows]) for item, rows in emissions.items()
    }
    for call in outcome.calls:
        for name, arrived in call.log.arrivals:
            parsed = parse_mark_name(name)
            found = index.get(parsed[0]) if parsed else None
            if parsed is None or found is None:
                unmatched += 1
                continue
            positions, stamps = found
            if parsed[1] >= int(positions[-1]):
                # The mark that completes an item (mark names carry whole milliseconds): voxgate holds
                # the item's last, partial 20 ms frame until the item's audio is done, by design (it
                # plays after the frames queued ahead of it, so the caller hears no gap). Left out for
                # every relay alike.
                tails += 1
                continue
            # The first delta whose audio reaches the mark's position is the one whose frames it follows.
            at = bisect.bisect_left(positions, parsed[1] - 0.5)
            if at >= len(positions):
                unmatched += 1
                continue
            delays.append((arrived - stamps[at]) * 1000.0)
    dropped = delivered = 0
    for call in outcome.calls:
        for item, last_ms in call.log.last_mark_ms.items():
            found = index.get(item)
            if found is None or item in call.log.cleared_items:
                continue
            positions, stamps = found
            if stamps[-1] > outcome.stopped_at - 1.0:
                continue  # still streaming when the calls hung up
            produced_frames = int(positions[-1] // 20)
            delivered_frames = int(last_ms // 20)
            dropped += max(0, produced_frames - delivered_frames)
            delivered += delivered_frames
    return {
        "delay_samples": len(delays),
        "delay_p50_ms": percentile(delays, 50),
        "delay_p99_ms": percentile(delays, 99),
        "delay_max_ms": max(delays) if delays else float("nan"),
        "unmatched_marks": unmatched,
        "tail_marks": tails,
        "dropped_frames": dropped,
        "delivered_frames": delivered,
        "clears": sum(c.log.clears for c in outcome.calls),
        "caller_turns": sum(c.log.replies for c in outcome.calls),
        "caller_frames_sent": sum(c.log.frames_sent for c in outcome.calls),
        "generator_lag_p99_ms": percentile(outcome.lags_ms, 99),
    }


async def measure(
    target: Target,
    child: Child,
    simulator: Child,
    count: int,
    seconds: float,
    mode: str,
    warmup: float = 4.0,
) -> dict[str, Any]:
    probe = f"http://127.0.0.1:{simulator.port}"
    async with httpx.AsyncClient() as http:
        await http.post(probe + "/_bench/reset")
    cpu: dict[str, float] = {}

    def on_window(edge: str) -> None:
        cpu[edge] = child.cpu_seconds()
        cpu["simulator_" + edge] = simulator.cpu_seconds()

    outcome = await run_calls(target, count, seconds, warmup=warmup, on_window=on_window)
    async with httpx.AsyncClient(timeout=60) as http:
        emissions = (await http.get(probe + "/_bench/emissions")).json()
    live = len(outcome.calls)
    window = outcome.window[1] - outcome.window[0]
    used = cpu.get("end", 0.0) - cpu.get("start", 0.0)
    per_call_ms = used * 1000.0 / (max(live, 1) * window)
    return {
        "relay": target.name,
        "audio": mode,
        "calls": count,
        "connected": live,
        "failed": outcome.failed,
        "seconds": round(window, 2),
        "cpu_seconds": used,
        "cpu_ms_per_call_s": per_call_ms,
        "calls_per_core": 1000.0 / per_call_ms if per_call_ms else float("inf"),
        "cpu_share_of_one_core": used / window,
        "simulator_cpu_share": (cpu.get("simulator_end", 0.0) - cpu.get("simulator_start", 0.0)) / window,
        **analyse(outcome, emissions, BYTES_PER_MS[mode]),
    }


async def _start_voxgate(scratch: Path, sim_port: int, audio: str, media_ms: int) -> Child:
    port = free_port()
    return await start_child(
        f"voxgate ({audio})",
        ["-m", "voxgate", "serve", "--port", str(port), "--backend", "simulator"],
        port,
        env={
            "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_ACCOUNT_SID": "",
            "VOXGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "VOXGATE_PHONE_AUDIO": audio,
            "VOXGATE_PHONE_MEDIA_MS": str(media_ms),
            "VOXGATE_MAX_CALLS": "100000",
            "VOXGATE_LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite+aiosqlite:///{scratch / f'bench-{audio}.db'}",
            "VOXGATE_JOURNAL": str(scratch / f"bench-{audio}.journal"),
        },
    )


async def _round(
    count: int, seconds: float, warmup: float, simulator: Child, bare: Child, gateways: dict[str, Child]
) -> list[dict[str, Any]]:
    """``count`` calls through the bare relay, then through voxgate in each audio mode, compared with
    that bare measurement."""
    baseline = await measure(
        Target("bare", None, f"ws://127.0.0.1:{bare.port}"), bare, simulator, count, seconds, "passthrough"
    )
    rows = [baseline]
    print(f"  {count} calls: bare relay measured", flush=True)
    for mode, child in gateways.items():
        target = Target("voxgate", f"http://127.0.0.1:{child.port}", None, AUTH_TOKEN)
        row = await measure(target, child, simulator, count, seconds, mode, warmup)
        row["added_p50_ms"] = row["delay_p50_ms"] - baseline["delay_p50_ms"]
        row["added_p99_ms"] = row["delay_p99_ms"] - baseline["delay_p99_ms"]
        row["cpu_ratio_to_bare"] = (
            row["cpu_ms_per_call_s"] / baseline["cpu_ms_per_call_s"]
            if baseline["cpu_ms_per_call_s"]
            else float("nan")
        )
        rows.append(row)
        print(f"  {count} calls: voxgate ({mode}) measured", flush=True)
    return rows


async def run_bench(
    counts: list[int],
    seconds: float,
    modes: list[str],
    media_ms: int,
    *,
    warmup: float = 4.0,
    repeat: int = 1,
) -> dict[str, Any]:
    """Measure every call count through the bare relay, then voxgate in each audio mode, ``repeat``
    times; with more than one round every figure is the median over the rounds."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        sim_port, bare_port = free_port(), free_port()
        children: list[Child] = []
        try:
            simulator = await start_child(
                "simulator", ["-m", "voxgate.bench.sim_probe", "--port", str(sim_port)], sim_port
            )
            children.append(simulator)
            bare = await start_child(
                "bare relay",
                ["-m", "voxgate.bench.phone_relay", "--port", str(bare_port), "--upstream",
                 f"ws://127.0.0.1:{sim_port}/v1/realtime?model=gpt-realtime"],
                bare_port,
            )  # fmt: skip
            children.append(bare)
            gateways: dict[str, Child] = {}
            for mode in modes:
                audio = "pcmu" if mode == "passthrough" else "pcm"
                gateways[mode] = await _start_voxgate(scratch, sim_port, audio, media_ms)
                children.append(gateways[mode])
            for count in counts:
                rounds = []
                for _ in range(repeat):
                    rounds.append(await _round(count, seconds, warmup, simulator, bare, gateways))
                rows.extend(medians(rounds))
        finally:
            for child in reversed(children):
                child.stop()
    return {"benchmark": "calls", "seconds": seconds, "media_ms": media_ms, "repeat": repeat, "rows": rows}


def format_rows(rows: list[dict[str, Any]]) -> str:
    headers = ["calls", "relay", "audio", "CPU ms/call·s", "calls/core", "delay p50", "delay p99",
               "added p99", "dropped", "failed", "gen lag p99"]  # fmt: skip
    body = [
        [
            r["calls"],
            r["relay"],
            r["audio"],
            r["cpu_ms_per_call_s"],
            r["calls_per_core"],
            r["delay_p50_ms"],
            r["delay_p99_ms"],
            r.get("added_p99_ms", "-"),
            r["dropped_frames"],
            r["failed"],
            r["generator_lag_p99_ms"],
        ]
        for r in rows
    ]
    text = (
        "calls benchmark: simulator delta -> its frames at Twilio (ms); the relay's CPU per call-second\n"
        + table(headers, body)
    )
    starved = sorted({r["calls"] for r in rows if r["generator_lag_p99_ms"] > GENERATOR_LAG_LIMIT_MS})
    if starved:
        # The load generator's own ticks ran late: the machine, not the relay, is the bottleneck, so the
        # delays of these rows measure CPU contention (and CPU per call shrinks as processes starve).
        text += (
            f"\nnote: at {', '.join(map(str, starved))} calls the load generator ran more than "
            f"{GENERATOR_LAG_LIMIT_MS:g} ms late (p99): too few cores for generator, simulator and relay "
            "together; those rows do not measure the relay."
        )
    return text


async def main(args: argparse.Namespace) -> int:
    counts = [int(part) for part in str(args.calls).split(",") if part.strip()]
    modes = [m.strip() for m in str(args.modes).split(",") if m.strip()]
    for mode in modes:
        if mode not in BYTES_PER_MS:
            raise SystemExit(f"unknown mode {mode!r}: passthrough or transcoding")
    repeat = max(1, int(getattr(args, "repeat", 1)))
    result = await run_bench(counts, args.seconds, modes, args.media_ms, repeat=repeat)
    print(format_rows(result["rows"]))
    if args.json:
        write_json(args.json, result)
    return 0
