"""``voxgate bench relay`` runs the gateway with storage off and on, beside the bare relay."""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import orjson
import pytest

import voxgate
from voxgate.bench.relay import _format, _storage_cost
from voxgate.bench.report import medians

pytestmark = pytest.mark.timeout(180)

SOURCE = Path(voxgate.__file__).resolve().parent.parent
"""The folder that holds this build's voxgate package."""


def test_the_storage_cost_is_the_difference_between_the_two_modes() -> None:
    def row(storage: str, cpu: float, p99: float) -> dict[str, object]:
        figures = {"rtt_p50_ms": 1.0, "rtt_p99_ms": p99, "cpu_ms_per_session_s": cpu, "errors": 0}
        bare = {**figures, "rtt_p99_ms": 1.0, "cpu_ms_per_session_s": 5.0, "failed_sessions": 0}
        return {
            "sessions": 10,
            "storage": storage,
            "bare": bare,
            "voxgate": {**figures, "failed_sessions": 0},
            "added_p50_ms": 0.0,
            "added_p99_ms": p99 - 1.0,
            "cpu_ratio": cpu / 5.0,
        }

    rows = [row("off", 20.0, 4.0), row("on", 21.0, 4.5)]
    _storage_cost(rows)
    assert "storage_extra_cpu" not in rows[0]
    assert rows[1]["storage_extra_cpu"] == pytest.approx(0.05)
    assert rows[1]["storage_added_p99_ms"] == pytest.approx(0.5)
    table = _format(rows)
    assert "storage CPU +%" in table and " off " in table and " on " in table


def test_rounds_are_summed_up_by_the_median_of_each_figure() -> None:
    def measured(ratio: float, p99: float, extra: float) -> list[dict[str, object]]:
        off = {"sessions": 10, "storage": "off", "cpu_ratio": ratio, "voxgate": {"rtt_p99_ms": p99}}
        on = {**off, "storage": "on", "storage_extra_cpu": extra}
        return [off, on]

    rounds = [measured(1.3, 9.0, 0.2), measured(1.0, 4.0, 0.05), measured(1.1, 5.0, -0.1)]
    off, on = medians(rounds)
    assert (off["storage"], off["sessions"], off["cpu_ratio"], off["voxgate"]) == (
        "off",
        10,
        1.1,
        {"rtt_p99_ms": 5.0},
    )
    assert on["storage_extra_cpu"] == 0.05, "each figure's own median, not one round's"
    assert [r["cpu_ratio"] for r in on["rounds"]] == [1.3, 1.0, 1.1]
    assert medians(rounds[:1]) == rounds[0], "one round is shown as it is"


@pytest.mark.parametrize("simultaneous", [False, True], ids=["one-after-the-other", "simultaneous"])
async def test_a_short_run_measures_both_modes(tmp_path: Path, simultaneous: bool) -> None:
    out = tmp_path / "relay.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "bench", "relay", "--sessions", "2", "--seconds", "1",
        "--json", str(out), *(["--simultaneous"] if simultaneous else []),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-2000:]
    result = orjson.loads(await asyncio.to_thread(out.read_bytes))
    assert result["simultaneous"] is simultaneous
    assert [(r["sessions"], r["storage"]) for r in result["rows"]] == [(2, "off"), (2, "on")]
    for row in result["rows"]:
        assert row["voxgate"]["failed_sessions"] == 0 and row["voxgate"]["probes"] > 0
    assert "storage_extra_cpu" in result["rows"][1]
    assert "storage CPU +%" in output.decode()
    assert ("at the same time" in output.decode()) is simultaneous
    bare, off, on = (result["rows"][0]["bare"], *(row["voxgate"] for row in result["rows"]))
    windows = sorted((m["measured_from"], m["measured_until"]) for m in (bare, off, on))
    overlapping = all(later[0] < earlier[1] for earlier, later in itertools.pairwise(windows))
    assert overlapping is simultaneous, windows


async def _bench_relay(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate", "bench", "relay", "--sessions", "2", "--seconds", "1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_baseline_build_is_measured_at_the_same_time(tmp_path: Path) -> None:
    out = tmp_path / "relay.json"
    source = SOURCE  # this build's own src folder stands in for another checkout
    code, output = await _bench_relay("--storage", "on", "--baseline-src", str(source), "--json", str(out))
    assert code == 0, output[-2000:]
    result = orjson.loads(await asyncio.to_thread(out.read_bytes))
    assert (result["simultaneous"], result["baseline_src"]) == (True, str(source))
    (row,) = result["rows"]
    assert (
        row["storage"] == "on" and row["baseline"]["probes"] > 0 and row["baseline"]["failed_sessions"] == 0
    )
    assert row["baseline_cpu_ratio"] == pytest.approx(
        row["voxgate"]["cpu_ms_per_session_s"] / row["baseline"]["cpu_ms_per_session_s"]
    )
    ours, theirs = row["voxgate"], row["baseline"]
    assert (
        theirs["measured_from"] < ours["measured_until"] and ours["measured_from"] < theirs["measured_until"]
    )
    assert "CPU vs baseline" in output


async def test_a_baseline_folder_without_voxgate_is_refused_with_a_message(tmp_path: Path) -> None:
    code, output = await _bench_relay("--baseline-src", str(tmp_path))
    assert code == 2
    assert f"--baseline-src {tmp_path}: no voxgate package there" in output
    assert "Traceback" not in output
