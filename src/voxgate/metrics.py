"""Prometheus metrics of one gateway (``GET /metrics``), on a registry of its own.

Each app gets its own ``CollectorRegistry``, so several gateways in one process (the tests) never
collide, and nothing is registered at import. The relay path only touches pre-resolved label
children (a dict lookup and an increment); the store's figures are read from ``StoreWriter.stats()``
when Prometheus scrapes.

=====================================  =========  ==============================================
metric                                 type       labels
=====================================  =========  ==============================================
voxgate_active_sessions                gauge      channel
voxgate_sessions_total                 counter    channel
voxgate_events_total                   counter    direction (in: to upstream, out: to client), family
voxgate_relay_latency_seconds          histogram  (upstream frame received -> handed to the client)
voxgate_tool_calls_total               counter    tool, result (ok / error)
voxgate_tool_errors_total              counter    tool
voxgate_tool_latency_seconds           histogram  tool
voxgate_upstream_connects_total        counter    result (ok / failed)
voxgate_upstream_reconnects_total      counter    result (ok / failed)
voxgate_upstream_failures_total        counter    stage (connect / reconnect / session)
voxgate_phone_turn_latency_seconds     histogram  (caller's speech_stopped -> first answer audio to Twilio)
voxgate_barge_ins_total                counter    channel
voxgate_tokens_total                   counter    kind (input / output)
voxgate_cost_usd_total                 counter
voxgate_store_queue_depth              gauge      (records in memory, waiting for the database)
voxgate_store_journal_depth            gauge      (records spilled to the journal, waiting for replay)
voxgate_store_written_records_total    counter
voxgate_store_spilled_records_total    counter
voxgate_store_lost_records_total       counter
voxgate_store_rejected_records_total   counter
voxgate_store_retries_total            counter
voxgate_store_up                       gauge      (1 while the writer reaches the database)
=====================================  =========  ==============================================
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from voxgate.store.writer import WriterStats

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

CHANNELS: Final = ("web", "sdk", "phone")
EventDirection = Literal["in", "out"]
UpstreamChange = Literal["connected", "connect_failed", "reconnected", "reconnect_failed", "lost"]

# Event families are the first part of the type. Types come from clients and upstreams, so anything
# outside this list is "other": label values must stay a small fixed set.
FAMILIES: Final = frozenset(
    {
        "session",
        "conversation",
        "input_audio_buffer",
        "output_audio_buffer",
        "response",
        "transcription_session",
        "rate_limits",
        "error",
        "voxgate",
        "connection_established",
        "get_token",
        "token",
        "function_call",
        "function_call_result",
    }
)
# Audio carries most of the traffic: its events get a family of their own.
AUDIO_TYPES: Final = frozenset({"input_audio_buffer.append", "response.output_audio.delta"})

RELAY_BUCKETS: Final = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
TOOL_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TURN_BUCKETS: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def event_family(kind: str) -> str:
    if kind in AUDIO_TYPES:
        return "audio"
    head = kind.split(".", 1)[0]
    return head if head in FAMILIES else "other"


class _StoreCollector(Collector):
    """The write-behind writer's figures, read at scrape time."""

    def __init__(self, stats: Callable[[], WriterStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        if stats is None:
            return
        yield GaugeMetricFamily(
            "voxgate_store_queue_depth", "Records in memory waiting for the database.", stats.queue_depth
        )
        yield GaugeMetricFamily(
            "voxgate_store_journal_depth",
            "Records in the spill journal waiting for replay.",
            stats.journal_depth,
        )
        yield GaugeMetricFamily(
            "voxgate_store_up", "1 while the writer reaches the database.", 1 if stats.state == "ok" else 0
        )
        for name, value, text in (
            ("written_records", stats.written, "Records written to the database."),
            ("spilled_records", stats.spilled, "Records spilled to the journal file."),
            ("lost_records", stats.lost, "Records lost (last resort only; each one is logged)."),
            (
                "rejected_records",
                stats.rejected,
                "Records the database refused (kept in the dead-letter file).",
            ),
            ("retries", stats.retries, "Failed write attempts retried later."),
        ):
            yield CounterMetricFamily(f"voxgate_store_{name}", text, value)


class _EventCounts(Collector):
    """``voxgate_events_total``, counted in a plain dict and turned into a metric at scrape time.

    It is incremented for every frame in both directions; a prometheus-client counter takes a lock
    and checks its labels on every increment, a dict entry costs an addition.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self._families: dict[str, str] = {}

    def add(self, direction: EventDirection, kind: str) -> None:
        family = self._families.get(kind)
        if family is None:
            family = event_family(kind)
            if len(self._families) < 4096:  # types come from clients and upstreams: bound the cache
                self._families[kind] = family
        key = (direction, family)
        self.counts[key] = self.counts.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        metric = CounterMetricFamily(
            "voxgate_events", "Events relayed, by direction and type family.", labels=["direction", "family"]
        )
        for (direction, family), count in sorted(self.counts.items()):
            metric.add_metric([direction, family], count)
        yield metric


class _RelayLatency(Collector):
    """``voxgate_relay_latency_seconds``, observed for every upstream frame: bucket counts in a list,
    turned into a cumulative histogram at scrape time (prometheus-client's histogram takes a lock and
    increments two values per observation)."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def collect(self) -> Iterator[Metric]:
        labels = [*map(repr, self.bounds), "+Inf"]
        cumulative = list(zip(labels, itertools.accumulate(self.counts), strict=True))
        yield HistogramMetricFamily(
            "voxgate_relay_latency_seconds",
            "From an upstream frame received to the event handed to the client.",
            buckets=cumulative,
            sum_value=self.sum,
        )


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active_sessions = Gauge("voxgate_active_sessions", "Open sessions.", ["channel"], registry=r)
        self.sessions = Counter("voxgate_sessions", "Sessions opened.", ["channel"], registry=r)
        self.events = _EventCounts()
        r.register(self.events)
        self.relay_latency = _RelayLatency(RELAY_BUCKETS)
        r.register(self.relay_latency)
        self.tool_calls = Counter("voxgate_tool_calls", "Tool calls.", ["tool", "result"], registry=r)
        self.tool_errors = Counter("voxgate_tool_errors", "Tool calls that failed.", ["tool"], registry=r)
        self.tool_latency = Histogram(
            "voxgate_tool_latency_seconds", "Tool run time.", ["tool"], buckets=TOOL_BUCKETS, registry=r
        )
        self.upstream_connects = Counter(
            "voxgate_upstream_connects",
            "Upstream connection attempts at session start.",
            ["result"],
            registry=r,
        )
        self.upstream_reconnects = Counter(
            "voxgate_upstream_reconnects",
            "Upstream reconnection attempts mid-session.",
            ["result"],
            registry=r,
        )
        self.upstream_failures = Counter(
            "voxgate_upstream_failures", "Upstream failures, by stage.", ["stage"], registry=r
        )
        self.phone_turn_latency = Histogram(
            "voxgate_phone_turn_latency_seconds",
            "What callers feel: end of their speech (speech_stopped) to the first answer audio to Twilio.",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.barge_ins = Counter(
            "voxgate_barge_ins", "Answers interrupted by the user.", ["channel"], registry=r
        )
        self.tokens = Counter("voxgate_tokens", "Tokens used, from response.done.", ["kind"], registry=r)
        self.cost = Counter("voxgate_cost_usd", "Estimated cost in USD, from the price table.", registry=r)
        self._store: _StoreCollector | None = None
        # Every bounded label value is exported from the start (at 0), so dashboards and alerts see
        # the series before the first event of its kind.
        for channel in CHANNELS:
            self.active_sessions.labels(channel)
            self.sessions.labels(channel)
            self.barge_ins.labels(channel)
        for result in ("ok", "failed"):
            self.upstream_connects.labels(result)
            self.upstream_reconnects.labels(result)
        for stage in ("connect", "reconnect", "session"):
            self.upstream_failures.labels(stage)
        for kind in ("input", "output"):
            self.tokens.labels(kind)

    def known_tools(self, names: Iterable[str]) -> None:
        """Export the tool series of these tools at 0 before their first call."""
        for name in names:
            self.tool_calls.labels(name, "ok")
            self.tool_calls.labels(name, "error")
            self.tool_errors.labels(name)
            self.tool_latency.labels(name)

    # -- the relay path ---------------------------------------------------------------------------
    def event(self, direction: EventDirection, kind: str) -> None:
        self.events.add(direction, kind)

    def relayed(self, seconds: float) -> None:
        self.relay_latency.observe(seconds)

    # -- sessions and upstream --------------------------------------------------------------------
    def session_opened(self, channel: str) -> None:
        self.sessions.labels(channel).inc()
        self.active_sessions.labels(channel).inc()

    def session_closed(self, channel: str) -> None:
        self.active_sessions.labels(channel).dec()

    def upstream(self, change: UpstreamChange) -> None:
        if change == "connected":
            self.upstream_connects.labels("ok").inc()
        elif change == "connect_failed":
            self.upstream_connects.labels("failed").inc()
            self.upstream_failures.labels("connect").inc()
        elif change == "reconnected":
            self.upstream_reconnects.labels("ok").inc()
        elif change == "reconnect_failed":
            self.upstream_reconnects.labels("failed").inc()
            self.upstream_failures.labels("reconnect").inc()
        else:
            self.upstream_failures.labels("session").inc()

    # -- tools, usage, phone ----------------------------------------------------------------------
    def tool(self, name: str, seconds: float, ok: bool) -> None:
        self.tool_calls.labels(name, "ok" if ok else "error").inc()
        self.tool_latency.labels(name).observe(seconds)
        if not ok:
            self.tool_errors.labels(name).inc()

    def usage(self, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        self.tokens.labels("input").inc(input_tokens)
        self.tokens.labels("output").inc(output_tokens)
        self.cost.inc(cost_usd)

    def barge_in(self, channel: str) -> None:
        self.barge_ins.labels(channel).inc()

    def observe_phone_turn_latency(self, seconds: float) -> None:
        """One caller turn: from ``speech_stopped`` to the first audio of the answer sent to Twilio."""
        self.phone_turn_latency.observe(seconds)

    # -- the store --------------------------------------------------------------------------------
    def watch_store(self, stats: Callable[[], WriterStats | None]) -> None:
        """Expose the writer's figures (queue depth, spilled, lost, ...) at each scrape."""
        if self._store is not None:
            self.registry.unregister(self._store)
        self._store = _StoreCollector(stats)
        self.registry.register(self._store)

    def render(self) -> bytes:
        return generate_latest(self.registry)
