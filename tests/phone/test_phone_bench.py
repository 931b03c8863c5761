"""A very short ``voxgate bench calls`` run: the structure of what it writes, never its timings."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import orjson
import pytest

from voxgate.bench.calls import format_rows, run_bench
from voxgate.bench.report import write_json

pytestmark = pytest.mark.timeout(180)

ROW_KEYS = {
    "relay",
    "audio",
    "calls",
    "connected",
    "failed",
    "seconds",
    "cpu_seconds",
    "cpu_ms_per_call_s",
    "calls_per_core",
    "cpu_share_of_one_core",
    "simulator_cpu_share",
    "delay_samples",
    "delay_p50_ms",
    "delay_p99_ms",
    "delay_max_ms",
    "unmatched_marks",
    "tail_marks",
    "dropped_frames",
    "delivered_frames",
    "clears",
    "caller_turns",
    "caller_frames_sent",
    "generator_lag_p99_ms",
}


async def test_bench_calls_writes_one_row_per_relay_and_mode(tmp_path: Path) -> None:
    result = await run_bench([2], seconds=2.0, modes=["passthrough", "transcoding"], media_ms=20, warmup=1.0)
    path = tmp_path / "calls.json"
    write_json(path, result)
    document = orjson.loads(path.read_bytes())
    assert document["benchmark"] == "calls" and document["media_ms"] == 20
    assert {"written_at", "machine", "seconds", "rows"} <= set(document)
    rows = document["rows"]
    assert [(r["relay"], r["audio"]) for r in rows] == [
        ("bare", "passthrough"),
        ("voxgate", "passthrough"),
        ("voxgate", "transcoding"),
    ]
    for row in rows:
        assert set(row) >= ROW_KEYS, ROW_KEYS - set(row)
        assert row["calls"] == 2 and row["connected"] + row["failed"] == 2
        assert isinstance(row["dropped_frames"], int)
    for row in rows[1:]:
        assert {"added_p50_ms", "added_p99_ms", "cpu_ratio_to_bare"} <= set(row)
    assert all(r["connected"] == 2 for r in rows), "every simulated call got through"
    assert all(r["caller_frames_sent"] > 0 for r in rows)
    assert not math.isnan(rows[1]["cpu_ms_per_call_s"])
    assert "voxgate" in format_rows(result["rows"])


async def test_bench_calls_rounds_are_summed_up_by_their_medians() -> None:
    result = await run_bench([2], seconds=1.5, modes=["passthrough"], media_ms=100, warmup=1.0, repeat=3)
    assert result["repeat"] == 3
    bare, gateway = result["rows"]
    assert (bare["relay"], gateway["relay"]) == ("bare", "voxgate")
    for row in (bare, gateway):
        assert len(row["rounds"]) == 3
        assert row["delay_p99_ms"] == statistics.median(r["delay_p99_ms"] for r in row["rounds"])
    # Compared within each round, against the bare relay measured just before it.
    assert [r["added_p99_ms"] for r in gateway["rounds"]] == [
        g["delay_p99_ms"] - b["delay_p99_ms"] for g, b in zip(gateway["rounds"], bare["rounds"], strict=True)
    ]
    assert gateway["added_p99_ms"] == statistics.median(r["added_p99_ms"] for r in gateway["rounds"])
    assert "voxgate" in format_rows(result["rows"])
