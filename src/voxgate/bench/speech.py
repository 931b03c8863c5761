"""``voxgate bench speech``: does speech synthesis in the simulator slow anyone's relay down?

The relay load of ``voxgate bench relay`` runs through voxgate twice, against the same simulator:

- ``cached``: every spoken answer is the same sentence, so it is synthesized once and then served from
  the simulator's cache: no synthesis while the measurement runs;
- ``fresh``: every answer is a sentence never said before (an order number that counts up), so each
  one is synthesized with espeak-ng while the other sessions keep streaming audio and probes.

Synthesis runs in the simulator's worker threads, off its event loop; if it stalled the loop, the
probes' round trip (which goes through the simulator) would show it. The table gives p50/p99 of that
round trip in both modes and how many answers a second were synthesized meanwhile.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any

import orjson

from voxgate.bench.procs import free_port, start_child
from voxgate.bench.relay import run_load, same_answer, start_gateway
from voxgate.bench.report import table, write_json

_ORDER_NUMBERS = itertools.count(1001)


def fresh_answer() -> str:
    number = next(_ORDER_NUMBERS)
    sentence = f"Order number {number} is ready: {number % 7 + 2} drinks for table {number % 23 + 1}."
    return orjson.dumps(
        {"type": "response.create", "response": {"instructions": f'Say exactly: "{sentence}"'}}
    ).decode()


async def main(args: argparse.Namespace) -> int:
    counts = [int(part) for part in str(args.sessions).split(",") if part.strip()]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        sim_port = free_port()
        simulator = await start_child(
            "simulator", ["-m", "voxgate", "simulator", "--port", str(sim_port)], sim_port
        )
        children = [simulator]
        try:
            gateway, gw_port = await start_gateway("voxgate", sim_port, Path(scratch) / "bench", store=False)
            children.append(gateway)
            url = f"ws://127.0.0.1:{gw_port}/v1/realtime"
            for count in counts:
                for mode, speak in (("cached", same_answer), ("fresh", fresh_answer)):
                    result = await run_load(url, count, args.seconds, gateway, speak)
                    rows.append({"sessions": count, "speech": mode, **result})
                print(f"  measured {count} sessions", flush=True)
        finally:
            for child in reversed(children):
                child.stop()
    print(_format(rows))
    if args.json:
        write_json(args.json, {"benchmark": "speech", "seconds": args.seconds, "rows": rows})
    return 0


def _format(rows: list[dict[str, Any]]) -> str:
    headers = ["sessions", "speech", "answers/s", "p50 ms", "p99 ms", "p99 vs cached ms", "errors", "failed"]
    cached = {r["sessions"]: r["rtt_p99_ms"] for r in rows if r["speech"] == "cached"}
    body = [
        [
            r["sessions"],
            r["speech"],
            r["answers_per_s"],
            r["rtt_p50_ms"],
            r["rtt_p99_ms"],
            r["rtt_p99_ms"] - cached[r["sessions"]] if r["speech"] == "fresh" else "",
            r["errors"],
            r["failed_sessions"],
        ]
        for r in rows
    ]
    return (
        "speech benchmark: probe round trip through voxgate and the simulator, answers served from the"
        " cache or synthesized meanwhile\n" + table(headers, body)
    )
