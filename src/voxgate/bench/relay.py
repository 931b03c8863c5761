"""``voxgate bench relay``: what the gateway adds on the relay path, next to a bare relay, in one run.

Child processes on loopback: the simulator, voxgate (``serve`` with the simulator as its upstream)
and a bare ``websockets`` relay in front of the same simulator. For each session count, in each round
(``--repeat``; the table shows medians), the load generator (this process) opens N sessions through
each relay in turn, every process started afresh for the round; every session appends
20 ms of audio 50 times a second, asks for a spoken answer once a second (so audio deltas flow back)
and sends a probe (``input_audio_buffer.clear``, answered by ``input_audio_buffer.cleared``) ten times
a second; each session has its own phase for all three. The probe's round trip, measured through
each relay, gives the latency the gateway adds; the relays' CPU time over the steady window gives CPU
per session-second.

voxgate runs once per storage mode (``--storage off,on``): ``off`` is ``VOXGATE_STORE=0`` (relay,
chain and metrics, nothing recorded), ``on`` records every event, transcript and usage into SQLite
through the write-behind writer. Both are compared with the bare relay in the same run.

``--simultaneous`` measures the bare relay and voxgate in each mode at the same time, each with its own
N sessions, instead of one after the other. On a shared machine a relay's CPU per session-second
drifts by several percent from one measurement to the next, more than what recording costs; measured
at the same time, the relays share the machine's state and the figures that compare them (CPU ratio,
storage cost) keep only their own difference. The load is then three times N sessions on one machine,
so choose N for that.

``--baseline-src DIR`` also runs voxgate from another source tree (a checkout, or its ``src`` folder),
at the same time and in the same storage modes, and reports this build's CPU against it: an A/B test
of a change whose effect is smaller than the machine's drift.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voxgate.bench.procs import Child, free_port, start_child
from voxgate.bench.report import medians, percentile, table, write_json
from voxgate.settings import ConfigError

APPEND = orjson.dumps(
    {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(960)).decode()}
).decode()  # 20 ms of PCM16 24 kHz silence
PROBE = orjson.dumps({"type": "input_audio_buffer.clear"}).decode()
SPEAK = orjson.dumps(
    {"type": "response.create", "response": {"instructions": 'Say exactly: "One moment please."'}}
).decode()
QUIET_SESSION = orjson.dumps(
    {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
).decode()


@dataclass
class LoadResult:
    rtts_ms: list[float] = field(default_factory=list)
    audio_deltas: int = 0
    answers: int = 0
    audio_bytes: int = 0
    errors: int = 0
    failed_sessions: int = 0


def same_answer() -> str:
    """The answer every session asks for: synthesized once, then served from the simulator's cache."""
    return SPEAK


class _Session:
    def __init__(self, ws: ClientConnection, result: LoadResult, speak: Callable[[], str]) -> None:
        self.ws = ws
        self.result = result
        self.speak = speak
        self.probes: deque[float] = deque()
        self.responding = False
        self.measuring = False

    async def receive(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                now = time.perf_counter()
                kind = orjson.loads(raw)["type"]
                if kind == "input_audio_buffer.cleared":
                    sent = self.probes.popleft()
                    if self.measuring:
                        self.result.rtts_ms.append((now - sent) * 1000)
                elif kind == "response.output_audio.delta" and self.measuring:
                    self.result.audio_deltas += 1
                    self.result.audio_bytes += len(raw)
                elif kind == "response.done":
                    self.responding = False
                    if self.measuring:
                        self.result.answers += 1
                elif kind == "error" and self.measuring:
                    self.result.errors += 1

    async def send_load(self, until: float) -> None:
        # Sessions are not in step: each has its own phase within the 20 ms frame, the probe period
        # and the one-second answer period, as independent users would. In step, every answer of
        # every session would be generated in the same instant and the probes would measure that burst.
        tick = 0
        probe_phase, speak_phase = random.randrange(5), random.randrange(50)
        next_at = time.perf_counter() + random.random() * 0.02
        while next_at < until:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            await self.ws.send(APPEND)
            if tick % 5 == probe_phase:
                self.probes.append(time.perf_counter())
                await self.ws.send(PROBE)
            if tick % 50 == speak_phase and not self.responding:
                self.responding = True
                await self.ws.send(self.speak())
            tick += 1
            next_at += 0.02


async def _open(url: str, result: LoadResult, speak: Callable[[], str]) -> _Session | None:
    try:
        ws = await connect(url, max_size=None, compression=None, open_timeout=30)
        while orjson.loads(await ws.recv())["type"] != "session.created":
            pass
        await ws.send(QUIET_SESSION)
        while True:
            event = orjson.loads(await ws.recv())
            if (
                event["type"] == "session.updated"
                and event["session"]["audio"]["input"]["turn_detection"] is None
            ):
                break
        return _Session(ws, result, speak)
    except (OSError, ConnectionClosed, TimeoutError):
        result.failed_sessions += 1
        return None


async def run_load(
    url: str, sessions: int, seconds: float, relay: Child, speak: Callable[[], str] = same_answer
) -> dict[str, Any]:
    result = LoadResult()
    opened = await asyncio.gather(*(_open(url, result, speak) for _ in range(sessions)))
    live = [s for s in opened if s is not None]
    warmup = 1.0
    start = time.perf_counter()
    until = start + warmup + seconds
    receivers = [asyncio.create_task(s.receive()) for s in live]
    senders = [asyncio.create_task(s.send_load(until)) for s in live]
    await asyncio.sleep(warmup)
    for session in live:
        session.measuring = True
    cpu_before, wall_before, began = relay.cpu_seconds(), time.perf_counter(), time.time()
    await asyncio.gather(*senders, return_exceptions=True)
    cpu_used, wall = relay.cpu_seconds() - cpu_before, time.perf_counter() - wall_before
    for session in live:
        session.measuring = False
        await session.ws.close()
    await asyncio.gather(*receivers, return_exceptions=True)
    session_seconds = max(len(live), 1) * wall
    return {
        "sessions": sessions,
        "failed_sessions": result.failed_sessions,
        "probes": len(result.rtts_ms),
        "rtt_p50_ms": percentile(result.rtts_ms, 50),
        "rtt_p99_ms": percentile(result.rtts_ms, 99),
        "audio_deltas_per_session_s": result.audio_deltas / session_seconds,
        "answers_per_s": result.answers / wall,
        "errors": result.errors,
        "cpu_seconds": cpu_used,
        "cpu_ms_per_session_s": cpu_used * 1000 / session_seconds,
        "cpu_share_of_one_core": cpu_used / wall,
        "measured_from": began,
        "measured_until": began + wall,
    }


STORAGE_MODES = ("off", "on")


async def start_gateway(
    name: str, sim_port: int, files: Path, *, store: bool, source: Path | None = None
) -> tuple[Child, int]:
    """``voxgate serve`` in front of the simulator on ``sim_port``; its database and journal at ``files``.
    ``source``: a folder holding another ``voxgate`` package, run instead of this one."""
    port = free_port()
    # ``source`` goes first on the child's path; an empty entry would add the working directory.
    path = os.pathsep.join(p for p in (str(source or ""), os.environ.get("PYTHONPATH", "")) if p)
    gateway = await start_child(
        name,
        ["-m", "voxgate", "serve", "--port", str(port), "--backend", "simulator"],
        port,
        env={
            "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
            "VOXGATE_MAX_MESSAGES_PER_SECOND": "1000",
            "VOXGATE_LOG_LEVEL": "WARNING",
            "VOXGATE_STORE": "1" if store else "0",
            "DATABASE_URL": f"sqlite+aiosqlite:///{files.with_suffix('.db')}",
            "VOXGATE_JOURNAL": str(files.with_suffix(".journal")),
            **({"PYTHONPATH": path} if source is not None else {}),
        },
    )
    return gateway, port


def baseline_source(folder: str) -> Path:
    """The folder that holds the ``voxgate`` package of the checkout (or ``src`` folder) ``folder``."""
    root = Path(folder).expanduser().resolve()
    for candidate in (root / "src", root):
        if (candidate / "voxgate" / "__init__.py").is_file():
            return candidate
    raise ConfigError(f"--baseline-src {folder}: no voxgate package there, nor in its src folder")


async def main(args: argparse.Namespace) -> int:
    counts = [int(part) for part in str(args.sessions).split(",") if part.strip()]
    modes = [m.strip() for m in str(getattr(args, "storage", "off,on")).split(",") if m.strip()]
    if not modes or any(mode not in STORAGE_MODES for mode in modes):
        raise ConfigError(f"--storage takes a comma-separated list of {', '.join(STORAGE_MODES)}")
    repeat = max(1, int(getattr(args, "repeat", 1)))
    baseline_src = getattr(args, "baseline_src", None)
    baseline = baseline_source(baseline_src) if baseline_src else None
    simultaneous = bool(getattr(args, "simultaneous", False)) or baseline is not None
    if baseline is not None:
        print(f"  baseline: voxgate from {baseline}, measured at the same time", flush=True)
    how = "all relays at the same time" if simultaneous else "one relay after the other"
    print(f"  {repeat} round(s) per session count, fresh processes for each, {how}", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in counts:
            rounds = [
                await _round(
                    count, modes, args.seconds, Path(scratch) / f"{count}-{n}", simultaneous, baseline
                )
                for n in range(repeat)
            ]
            rows.extend(medians(rounds))
            print(f"  measured {count} sessions", flush=True)
    print(_format(rows))
    if args.json:
        write_json(
            args.json,
            {
                "benchmark": "relay",
                "seconds": args.seconds,
                "repeat": repeat,
                "simultaneous": simultaneous,
                "baseline_src": str(baseline) if baseline is not None else None,
                "rows": rows,
            },
        )
    return 0


async def _round(
    count: int,
    modes: list[str],
    seconds: float,
    files: Path,
    simultaneous: bool = False,
    baseline: Path | None = None,
) -> list[dict[str, Any]]:
    """One measurement of ``count`` sessions through the bare relay and through voxgate in each storage
    mode, each in a process started for it: a process's own luck (where its memory landed, what shared
    its CPU's cache) then varies between rounds instead of biasing every round the same way. The relays
    are measured one after the other, or all at the same time (``simultaneous``)."""
    sim_port = free_port()
    simulator = await start_child(
        "simulator", ["-m", "voxgate", "simulator", "--port", str(sim_port)], sim_port
    )
    relays: list[tuple[Child, str]] = []
    try:
        bare_port = free_port()
        bare = await start_child(
            "bare relay",
            [
                "-m",
                "voxgate.bench.bare_relay",
                "--port",
                str(bare_port),
                "--upstream",
                f"ws://127.0.0.1:{sim_port}/v1/realtime?model=gpt-realtime",
            ],
            bare_port,
        )
        relays.append((bare, f"ws://127.0.0.1:{bare_port}"))
        for mode in modes:
            gateway, gw_port = await start_gateway(
                f"voxgate (storage {mode})",
                sim_port,
                files.with_name(f"{files.name}-{mode}"),
                store=mode == "on",
            )
            relays.append((gateway, f"ws://127.0.0.1:{gw_port}/v1/realtime"))
        for mode in modes if baseline is not None else ():
            gateway, gw_port = await start_gateway(
                f"baseline voxgate (storage {mode})",
                sim_port,
                files.with_name(f"{files.name}-baseline-{mode}"),
                store=mode == "on",
                source=baseline,
            )
            relays.append((gateway, f"ws://127.0.0.1:{gw_port}/v1/realtime"))
        if simultaneous:
            loads = await asyncio.gather(*(run_load(url, count, seconds, child) for child, url in relays))
        else:
            loads = []
            for child, url in relays:
                loads.append(await run_load(url, count, seconds, child))
                child.stop()  # the next relay is measured alone
    finally:
        for child, _ in relays:
            child.stop()
        simulator.stop()
    base, gates, baselines = loads[0], loads[1 : 1 + len(modes)], loads[1 + len(modes) :]
    measured = [
        {"storage": mode, "simultaneous": simultaneous, **_compare(base, gate)}
        for mode, gate in zip(modes, gates, strict=True)
    ]
    for row, other in zip(measured, baselines, strict=True) if baseline is not None else ():
        cpu = other["cpu_ms_per_session_s"]
        row["baseline"] = other
        row["baseline_cpu_ratio"] = row["voxgate"]["cpu_ms_per_session_s"] / cpu if cpu else float("nan")
    _storage_cost(measured)
    return measured


def _compare(base: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    return {
        "sessions": base["sessions"],
        "bare": base,
        "voxgate": gate,
        "added_p50_ms": gate["rtt_p50_ms"] - base["rtt_p50_ms"],
        "added_p99_ms": gate["rtt_p99_ms"] - base["rtt_p99_ms"],
        "cpu_ratio": gate["cpu_ms_per_session_s"] / base["cpu_ms_per_session_s"]
        if base["cpu_ms_per_session_s"]
        else float("nan"),
    }


def _storage_cost(rows: list[dict[str, Any]]) -> None:
    """With both modes measured: what recording adds over the same gateway without it."""
    by_mode = {row["storage"]: row for row in rows}
    off, on = by_mode.get("off"), by_mode.get("on")
    if off is None or on is None:
        return
    cpu_off = off["voxgate"]["cpu_ms_per_session_s"]
    on["storage_extra_cpu"] = on["voxgate"]["cpu_ms_per_session_s"] / cpu_off - 1 if cpu_off else float("nan")
    on["storage_added_p99_ms"] = on["voxgate"]["rtt_p99_ms"] - off["voxgate"]["rtt_p99_ms"]


def _format(rows: list[dict[str, Any]]) -> str:
    headers = [
        "sessions",
        "storage",
        "bare p50 ms",
        "bare p99 ms",
        "voxgate p50 ms",
        "voxgate p99 ms",
        "added p99 ms",
        "bare CPU ms/s·s",
        "voxgate CPU ms/s·s",
        "CPU ratio",
        "storage CPU +%",
        "storage p99 +ms",
        "errors",
        "failed",
    ]
    against_baseline = any("baseline_cpu_ratio" in r for r in rows)
    if against_baseline:
        headers.append("CPU vs baseline")
    body = [
        [
            r["sessions"],
            r.get("storage", "on"),
            r["bare"]["rtt_p50_ms"],
            r["bare"]["rtt_p99_ms"],
            r["voxgate"]["rtt_p50_ms"],
            r["voxgate"]["rtt_p99_ms"],
            r["added_p99_ms"],
            r["bare"]["cpu_ms_per_session_s"],
            r["voxgate"]["cpu_ms_per_session_s"],
            r["cpu_ratio"],
            r["storage_extra_cpu"] * 100 if "storage_extra_cpu" in r else "",
            r.get("storage_added_p99_ms", ""),
            r["bare"]["errors"] + r["voxgate"]["errors"],
            r["bare"]["failed_sessions"] + r["voxgate"]["failed_sessions"],
            *([r.get("baseline_cpu_ratio", "")] if against_baseline else []),
        ]
        for r in rows
    ]
    title = "relay benchmark: round trip of a probe through each relay, CPU per session-second"
    if rows and rows[0].get("simultaneous"):
        title += ", all relays measured at the same time"
    if rows and "rounds" in rows[0]:
        title += f" (medians of {len(rows[0]['rounds'])} rounds)"
    return title + "\n" + table(headers, body)
