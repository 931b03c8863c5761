"""The caller's printout: what happened when, the latencies, and what was said."""

from __future__ import annotations

from voxgate.caller.call import CallResult


def _ms(value: float | None) -> str:
    return f"{value:.0f} ms" if value is not None else "-"


def format_result(result: CallResult) -> str:
    lines = [f"call {result.spec.call_sid} to {result.spec.webhook_url}"]
    if result.twiml is not None and result.twiml.stream is None:
        lines.append(f"  TwiML: {', '.join(result.twiml.verbs)}")
        lines += [f"  said: {text}" for text in result.twiml.said]
        lines += [f"  dialed: {number}" for number in result.twiml.dialed]
    lines.append("timeline (ms since the stream started):")
    lines += [f"  {event.at_ms:8.0f}  {event.what:<9} {event.detail}" for event in result.timeline]
    lines.append("latencies:")
    lines.append(f"  greeting: first agent audio {_ms(result.greeting_latency_ms)} after 'start'")
    for index, turn in enumerate(result.turns, 1):
        kind = " (barge-in)" if turn.barge_in else ""
        lines.append(
            f"  turn {index}{kind}: {turn.label[:40]!r} -> agent audio "
            f"{_ms(turn.latency_ms)} after the caller stopped"
        )
    for barge in result.barge_ins:
        clear = _ms(barge.clear_at_ms - barge.at_ms) if barge.clear_at_ms is not None else "never"
        lines.append(
            f"  barge-in at {barge.at_ms:.0f} ms, {barge.agent_played_ms:.0f} ms of the reply heard; "
            f"clear {clear} later"
        )
    lines.append(
        f"audio: {result.received_bytes / 8:.0f} ms received, {result.played_bytes / 8:.0f} ms played, "
        f"{result.cleared_bytes / 8:.0f} ms cleared; {len(result.echoed_marks)} marks echoed"
    )
    if result.after is not None:
        lines.append(
            f"after the stream: {', '.join(result.after.verbs)} {' '.join(result.after.said)}".rstrip()
        )
    for error in result.protocol_errors:
        lines.append(f"PROTOCOL ERROR: {error}")
    lines.append(f"ended: {result.ended_by} after {result.duration_s:.1f} s")
    record = result.record
    if record is not None:
        lines.append(
            f"gateway's record: {record.get('status')}, {record.get('end_reason')}, "
            f"turn latency p50 {record.get('turn_latency_p50_ms')} ms"
        )
        transcript = record.get("transcript") or []
        if transcript:
            lines.append("transcript:")
            for entry in transcript:
                cut = f" [cut at {entry['interrupted_at_ms']} ms]" if entry.get("interrupted_at_ms") else ""
                lines.append(f"  {entry.get('role', '?'):>9}: {entry.get('text', '')}{cut}")
    else:
        lines.append("(no transcript: the gateway's call record is not readable; set --admin-key)")
    return "\n".join(lines)
