"""``voxgate bench speech`` measures the relay with answers from the cache and synthesized meanwhile."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
import pytest

from voxgate.bench.speech import fresh_answer

pytestmark = pytest.mark.timeout(180)


def test_fresh_answers_are_never_the_same_sentence() -> None:
    answers = [orjson.loads(fresh_answer())["response"]["instructions"] for _ in range(50)]
    assert len(set(answers)) == 50 and all(a.startswith('Say exactly: "Order number') for a in answers)


async def test_a_short_run_synthesizes_answers_while_measuring(tmp_path: Path) -> None:
    out = tmp_path / "speech.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "bench", "speech", "--sessions", "2", "--seconds", "2",
        "--json", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-2000:]
    rows = orjson.loads(await asyncio.to_thread(out.read_bytes))["rows"]
    assert [(r["sessions"], r["speech"]) for r in rows] == [(2, "cached"), (2, "fresh")]
    for row in rows:
        assert row["failed_sessions"] == 0 and row["errors"] == 0 and row["probes"] > 0
        assert row["answers_per_s"] > 0 and row["audio_deltas_per_session_s"] > 0
    assert "p99 vs cached ms" in output.decode()
