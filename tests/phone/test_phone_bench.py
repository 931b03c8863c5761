"""A very short ``voxgate bench calls`` run: the structure of what it writes, never its timings."""

from __future__ import annotations

import math
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
