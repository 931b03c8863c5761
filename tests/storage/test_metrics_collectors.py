"""The relay's per-frame metrics (events, relay latency) are plain counters exported at scrape time."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from voxgate.metrics import GatewayMetrics


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_relay_latency_is_a_cumulative_histogram() -> None:
    metrics = GatewayMetrics()
    for seconds in (0.00004, 0.0003, 0.0005, 0.002, 7.0):
        metrics.relayed(seconds)
    samples = _samples(metrics)

    def bucket(le: str) -> float:
        return samples[("voxgate_relay_latency_seconds_bucket", (("le", le),))]

    assert bucket("5e-05") == 1
    assert bucket("0.0005") == 3  # an observation equal to a bound counts in that bucket
    assert bucket("0.0025") == 4
    assert bucket("0.5") == 4 and bucket("+Inf") == 5
    assert samples[("voxgate_relay_latency_seconds_count", ())] == 5
    assert abs(samples[("voxgate_relay_latency_seconds_sum", ())] - 7.00284) < 1e-9


def test_events_are_counted_by_direction_and_family() -> None:
    metrics = GatewayMetrics()
    for kind in ("input_audio_buffer.append", "input_audio_buffer.append", "session.update", "no.such"):
        metrics.event("in", kind)
    metrics.event("out", "response.output_audio.delta")
    samples = _samples(metrics)

    def events(direction: str, family: str) -> float:
        return samples[("voxgate_events_total", (("direction", direction), ("family", family)))]

    assert events("in", "audio") == 2
    assert events("in", "session") == 1 and events("in", "other") == 1
    assert events("out", "audio") == 1
