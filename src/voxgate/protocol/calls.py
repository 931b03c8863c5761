"""Phone call records, kept in memory and updated from Twilio's callbacks and the Media Stream. Pure.

Twilio reports a call's progress in separate HTTP requests that may arrive twice or out of order
(protocol-reference 15.2). The registry therefore:

* records every distinct report in ``status_history`` (a repeated ``(status, SequenceNumber)`` is a
  retry and changes nothing);
* moves ``status`` only forwards (``queued`` < ``initiated`` < ``ringing`` < ``in-progress`` <
  final), and the first final status wins: ``completed`` then a late ``ringing`` stays ``completed``.

Times are passed in (aware datetimes from the gateway's injected wall clock); nothing here reads a
clock. A recorder (for example the store's write-behind writer) subscribes with
:meth:`CallRegistry.subscribe` and is told about every change; it must not block.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

log = logging.getLogger("voxgate.calls")

JSON = dict[str, Any]

FINAL_STATUSES: Final = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
_RANK: Final[dict[str, int]] = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    **dict.fromkeys(FINAL_STATUSES, 4),
}

EndReason = Literal[
    "caller_hung_up",
    "not_answered",
    "agent_ended",
    "transferred",
    "upstream_failed",
    "rejected_busy",
    "rejected_unavailable",
    "stream_never_connected",
    "stream_refused",
    "gateway_shutdown",
]
FAILED_ENDINGS: Final = frozenset(
    {
        "upstream_failed",
        "rejected_busy",
        "rejected_unavailable",
        "stream_never_connected",
        "stream_refused",
        "gateway_shutdown",
    }
)
"""Endings after which Twilio's "what next" request gets an apology instead of a plain hang-up."""


def status_rank(status: str) -> int:
    """Where a Twilio ``CallStatus`` sits in a call's life; unknown values rank lowest."""
    return _RANK.get(status, -1)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One status as reported; ``sequence`` is Twilio's ``SequenceNumber`` when it sent one."""

    status: str
    at: datetime
    source: str
    """``voice`` (the voice webhook), ``callback`` (status callback), ``stream``, ``rest`` or ``gateway``."""
    sequence: int | None = None
    reported_at: str | None = None
    """Twilio's own ``Timestamp`` (RFC 2822), kept verbatim."""

    def as_json(self) -> JSON:
        data: JSON = {"status": self.status, "at": self.at.isoformat(), "source": self.source}
        if self.sequence is not None:
            data["sequence"] = self.sequence
        if self.reported_at:
            data["reported_at"] = self.reported_at
        return data


@dataclass(slots=True)
class CallRecord:
    call_sid: str
    created_at: datetime
    business: str
    """The agent profile answering the call (a business id once the store has businesses)."""
    from_number: str | None = None
    to_number: str | None = None
    direction: str | None = None
    account_sid: str | None = None
    status: str = "queued"
    status_history: list[StatusReport] = field(default_factory=list)
    started_at: datetime | None = None
    """When the Media Stream started: the caller is talking to the agent."""
    ended_at: datetime | None = None
    duration_s: float | None = None
    """Twilio's ``CallDuration`` when it reported one, else stream start to end."""
    end_reason: EndReason | None = None
    outcome: str | None = None
    """``booked``, ``ordered``, ``no_action`` or ``failed`` (the store's vocabulary)."""
    session_id: str | None = None
    stream_sid: str | None = None
    transfer_to: str | None = None
    greeting_latency_ms: float | None = None
    """Stream start to the greeting's first audio frame sent to Twilio."""
    turn_latencies_ms: list[float] = field(default_factory=list)
    """Per caller turn: the upstream's ``speech_stopped`` to the first audio frame sent to Twilio."""
    barge_ins: list[JSON] = field(default_factory=list)
    truncations: list[JSON] = field(default_factory=list)
    digits: str = ""
    transcript: list[JSON] = field(default_factory=list)
    upstream_errors: list[JSON] = field(default_factory=list)
    stats: JSON = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def active(self) -> bool:
        return self.ended_at is None and self.status not in FINAL_STATUSES

    def summary(self) -> JSON:
        latencies = sorted(self.turn_latencies_ms)
        return {
            "call_sid": self.call_sid,
            "business": self.business,
            "from": self.from_number,
            "to": self.to_number,
            "direction": self.direction,
            "status": self.status,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration_s": self.duration_s,
            "end_reason": self.end_reason,
            "outcome": self.outcome,
            "greeting_latency_ms": _round(self.greeting_latency_ms),
            "turns": len(latencies),
            "turn_latency_p50_ms": _round(latencies[len(latencies) // 2]) if latencies else None,
            "turn_latency_max_ms": _round(latencies[-1]) if latencies else None,
            "barge_ins": len(self.barge_ins),
        }

    def as_json(self) -> JSON:
        return {
            **self.summary(),
            "account_sid": self.account_sid,
            "created_at": self.created_at.isoformat(),
            "status_history": [report.as_json() for report in self.status_history],
            "session_id": self.session_id,
            "stream_sid": self.stream_sid,
            "transfer_to": self.transfer_to,
            "turn_latencies_ms": [round(v, 1) for v in self.turn_latencies_ms],
            "barge_in_details": self.barge_ins,
            "truncations": self.truncations,
            "digits": self.digits,
            "transcript": self.transcript,
            "upstream_errors": self.upstream_errors,
            "stats": self.stats,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


Listener = Callable[[CallRecord], None]


class CallRegistry:
    """The calls this gateway knows about, newest last; bounded by forgetting the oldest ended calls."""

    def __init__(self, *, max_records: int = 2000) -> None:
        self.max_records = max_records
        self._records: OrderedDict[str, CallRecord] = OrderedDict()
        self._listeners: list[Listener] = []

    # -- observers ---------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(record)`` after every change (the hook for persisting call records)."""
        self._listeners.append(listener)

    def changed(self, record: CallRecord) -> None:
        """Tell the listeners; a transport that edited a record's fields calls this."""
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:  # a broken recorder must not break a live call; it is logged once here
                log.exception("call recorder failed on %s", record.call_sid)

    # -- lookup -----------------------------------------------------------------------------------
    def get(self, call_sid: str) -> CallRecord | None:
        return self._records.get(call_sid)

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(list(self._records.values()))

    def __len__(self) -> int:
        return len(self._records)

    def active_count(self, business: str, *, excluding: str | None = None) -> int:
        return sum(
            1
            for record in self._records.values()
            if record.business == business and record.active and record.call_sid != excluding
        )

    # -- changes ----------------------------------------------------------------------------------
    def open(
        self,
        call_sid: str,
        *,
        at: datetime,
        business: str,
        from_number: str | None = None,
        to_number: str | None = None,
        direction: str | None = None,
        account_sid: str | None = None,
    ) -> CallRecord:
        """The record of ``call_sid``, created on first sight; later calls fill in missing fields only."""
        record = self._records.get(call_sid)
        if record is None:
            record = CallRecord(call_sid=call_sid, created_at=at, business=business)
            self._records[call_sid] = record
            self._forget_old()
        record.from_number = record.from_number or from_number
        record.to_number = record.to_number or to_number
        record.direction = record.direction or direction
        record.account_sid = record.account_sid or account_sid
        self.changed(record)
        return record

    def report_status(
        self,
        call_sid: str,
        status: str,
        *,
        at: datetime,
        source: str,
        sequence: int | None = None,
        reported_at: str | None = None,
        duration_s: float | None = None,
    ) -> bool:
        """Apply one status report; False when it was a repeat (nothing changed) or the call is unknown."""
        record = self._records.get(call_sid)
        if record is None:
            return False
        if any(
            r.status == status and r.sequence == sequence and r.source == source
            for r in record.status_history
        ):
            return False
        record.status_history.append(StatusReport(status, at, source, sequence, reported_at))
        # Forwards only; final statuses share the top rank, so the first one reported stays.
        if status_rank(status) > status_rank(record.status):
            record.status = status
        if duration_s is not None and record.status in FINAL_STATUSES:
            record.duration_s = duration_s
        self.changed(record)
        return True

    def stream_started(self, call_sid: str, *, at: datetime, stream_sid: str, session_id: str) -> None:
        record = self._records.get(call_sid)
        if record is None:
            return
        record.started_at = record.started_at or at
        record.stream_sid = stream_sid
        record.session_id = session_id
        self.changed(record)

    def finish(
        self, call_sid: str, *, at: datetime, end_reason: EndReason, outcome: str | None = None
    ) -> CallRecord | None:
        """The call is over as far as the gateway is concerned; the first ending recorded stays."""
        record = self._records.get(call_sid)
        if record is None:
            return None
        if record.ended_at is None:
            record.ended_at = at
            record.end_reason = record.end_reason or end_reason
            if record.duration_s is None and record.started_at is not None:
                record.duration_s = round((at - record.started_at).total_seconds(), 3)
        if record.outcome is None:
            record.outcome = outcome or ("failed" if record.end_reason in FAILED_ENDINGS else "no_action")
        self.changed(record)
        return record

    def _forget_old(self) -> None:
        if len(self._records) <= self.max_records:
            return
        for sid in [s for s, r in self._records.items() if r.ended][: len(self._records) - self.max_records]:
            del self._records[sid]
