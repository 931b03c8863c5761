"""Phone calls into the store: a listener on the in-memory ``CallRegistry``.

The registry tells its listeners about every change of a call (``CallRegistry.subscribe``). Each
status report not seen before becomes a ``CallStatus`` (appended to the stored status history), then
the call's current picture a ``CallRecord`` (merged into the stored row). The same listener feeds the
phone latency metric from ``CallRecord.turn_latencies_ms`` (speech_stopped to first audio to Twilio).

Nothing here awaits: records go to the writer's ``submit``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, get_args

from voxgate.metrics import GatewayMetrics
from voxgate.protocol.calls import CallRecord as LiveCall
from voxgate.store.models import CallOutcome
from voxgate.store.records import CallRecord, CallStatus, Record

log = logging.getLogger("voxgate.recording")

OUTCOMES: Final = frozenset(get_args(CallOutcome))
MAX_TRACKED: Final = 10_000
"""Calls whose progress is remembered; the oldest are forgotten first (a late report then re-sends)."""


class CallRecorder:
    def __init__(
        self,
        submit: Callable[[Record], None] | None,
        metrics: GatewayMetrics,
    ) -> None:
        self._submit = submit
        self._metrics = metrics
        # call sid -> (status reports submitted, turn latencies observed)
        self._progress: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def on_change(self, call: LiveCall) -> None:
        """The ``CallRegistry`` listener."""
        statuses_sent, turns_seen = self._progress.pop(call.call_sid, (0, 0))
        # The phone bridge appends a turn's latency to the record; it is observed at the next change.
        for value in call.turn_latencies_ms[turns_seen:]:
            self._metrics.observe_phone_turn_latency(value / 1000.0)
        if self._submit is not None:
            record_call(call, self._submit, already_sent=statuses_sent)
        self._progress[call.call_sid] = (len(call.status_history), len(call.turn_latencies_ms))
        while len(self._progress) > MAX_TRACKED:
            self._progress.popitem(last=False)


def record_call(call: LiveCall, submit: Callable[[Record], None], *, already_sent: int = 0) -> None:
    """Submit what is new about ``call``: status reports after the first ``already_sent``, then the call.

    Usable on its own by a transport that keeps calls elsewhere; repeats are harmless (the store
    ignores a status report it already has, and merges the call row).
    """
    for report in call.status_history[already_sent:]:
        details: dict[str, object] = {"source": report.source}
        if report.sequence is not None:
            details["sequence"] = report.sequence
        if report.reported_at:
            details["reported_at"] = report.reported_at
        submit(CallStatus(call_sid=call.call_sid, status=report.status, at=report.at, details=details))
    submit(
        CallRecord(
            call_sid=call.call_sid,
            session_id=call.session_id,
            from_number=call.from_number,
            to_number=call.to_number,
            status=call.status,
            started_at=call.created_at,
            ended_at=call.ended_at,
            duration_s=round(call.duration_s) if call.duration_s is not None else None,
            outcome=_outcome(call.outcome),
        )
    )


def _outcome(value: str | None) -> CallOutcome | None:
    if value is None:
        return None
    if value in OUTCOMES:
        return value  # type: ignore[return-value]
    log.warning("call outcome %r is not one of %s; stored as no outcome", value, sorted(OUTCOMES))
    return None
