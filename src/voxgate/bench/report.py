"""Benchmark output: an aligned table for people, a JSON file for machines."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def medians(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows measured in several rounds, summed up: row ``i`` of the result has every figure of row ``i``
    as its median over the rounds, and the rounds themselves under ``rounds``. Figures that compare
    two relays are computed within each round (against the baseline measured next to it), and then
    their median is taken, so a round's luck cancels out instead of mixing across rounds."""
    if len(rounds) == 1:
        return rounds[0]
    return [
        {**_median_of([r[i] for r in rounds]), "rounds": [r[i] for r in rounds]}
        for i in range(len(rounds[0]))
    ]


def _median_of(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        return {key: _median_of([v[key] for v in values]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return statistics.median(values)
    return first


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def write_json(path: str | Path, result: dict[str, Any]) -> None:
    document = {"written_at": datetime.now(UTC).isoformat(), "machine": machine(), **result}
    Path(path).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
