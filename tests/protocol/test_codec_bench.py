"""The codec benchmark runs and reports every case; no timing assertions (machines differ)."""

from __future__ import annotations

import orjson

from voxgate.bench.codec import continuity, format_table, run_codec_bench

CASES = {
    "mulaw_decode",
    "mulaw_encode",
    "soxr_stream_8k_to_24k",
    "soxr_stream_24k_to_8k",
    "soxr_oneshot_8k_to_24k",
    "soxr_oneshot_24k_to_8k",
    "audioop_ratecv_8k_to_24k",
    "audioop_ratecv_24k_to_8k",
    "twilio_parse_media",
    "phone_passthrough_in",
    "phone_passthrough_out",
    "phone_transcode_in",
    "phone_transcode_out",
}


def test_structure() -> None:
    result = run_codec_bench(seconds=0.05)
    assert result["benchmark"] == "codec" and result["frame_ms"] == 20
    assert set(result["results"]) == CASES
    for row in result["results"].values():
        assert set(row) == {"us_per_frame", "us_per_frame_median", "us_per_frame_best", "frames"}
        assert row["frames"] > 0 and row["us_per_frame"] > 0
    for direction in ("8k_to_24k", "24k_to_8k"):
        row = result["continuity"][direction]
        assert row["sine_max_step"] > 0
        for method in ("soxr_stream", "soxr_oneshot_per_frame", "audioop_ratecv"):
            assert set(row[method]) == {"max_edge_step", "max_inner_step", "edge_step_vs_sine"}
    orjson.dumps(result)  # the CLI writes it as JSON
    table = format_table(result)
    assert all(name in table for name in CASES)
    assert "continuity" in table


def test_streaming_is_seamless_and_one_shot_clicks() -> None:
    # Not timing: the sample values themselves. A streaming resampler's frame edges look like the sine.
    report = continuity(seconds=0.5)
    up = report["8k_to_24k"]
    assert up["soxr_stream"]["edge_step_vs_sine"] < 1.1
    assert up["soxr_oneshot_per_frame"]["edge_step_vs_sine"] > 2.0
