"""One phone call between Twilio Media Streams and a Realtime session, as a pure state machine.

Parsed Twilio messages, upstream server events and the current time go in; actions come out
(:class:`SendToTwilio`, :class:`SendUpstream`, :class:`HangUp`, :class:`Metric`). No socket, no
clock, no database: ``now`` is passed in by the caller (seconds on a monotonic clock).

What it owns (protocol-reference sections 8.5, 18-20):

* **Outbound audio.** ``response.output_audio.delta`` payloads become Twilio ``media`` messages of
  ``outbound_frame_ms`` each, followed by one ``mark`` per delta. With an ``audio/pcmu`` upstream the
  bytes pass through untouched; with ``audio/pcm`` (24 kHz) they are resampled to 8 kHz by a
  streaming resampler whose filter state spans deltas, then mu-law encoded.
* **Inbound audio.** Caller ``media`` frames are batched into ``input_audio_buffer.append`` events of
  ``inbound_batch_ms`` (transcoded 8 kHz mu-law -> 24 kHz PCM16 when the upstream takes ``audio/pcm``).
* **Playback position.** Twilio echoes a mark once the audio queued before it has played, so the
  echoed marks say how much of each assistant item the caller really heard.
* **Barge-in.** On ``input_audio_buffer.speech_started`` while assistant audio is queued: Twilio
  ``clear``, ``conversation.item.truncate`` at the heard position clamped to the audio the upstream
  produced for the item (so "already shorter" cannot happen), ``conversation.item.delete`` instead
  when nothing was heard (configurable), ``response.cancel`` when the session does not cancel by
  itself (``interrupt_response`` false); then marks echoed for the discarded audio and late deltas
  of the cancelled response are ignored.
* **DTMF** as user text messages, **hang-up after the goodbye has been heard**, and the
  speech-stopped -> first-audio latency as a :class:`Metric`.

The audio path uses plain dict access on the upstream event (already parsed once with orjson by
the I/O layer), ``binascii`` base64 and precomputed Twilio JSON; nothing per frame goes through
pydantic or the stdlib ``json``.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from voxgate.protocol.audio import BYTES_PER_MS, AudioFormat, FrameSplitter, StreamConverter
from voxgate.protocol.conversation import GATEWAY_EVENT_PREFIX, SendUpstream
from voxgate.protocol.realtime import JSON
from voxgate.protocol.twilio import Connected, Dtmf, Mark, Media, Start, Stop, TwilioMessage, TwilioOutbound

TWILIO_FORMAT: Final[AudioFormat] = "audio/pcmu"
TWILIO_BYTES_PER_MS: Final = 8
SUPPORTED_FORMATS: Final = frozenset({"audio/pcmu", "audio/pcma", "audio/pcm"})
DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")


class PhoneError(ValueError):
    """The call was driven in a way the state machine cannot follow (a bug in the caller or upstream)."""


# -- actions ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendToTwilio:
    """Send this JSON text on the Twilio Media Stream."""

    text: str


@dataclass(frozen=True, slots=True)
class HangUp:
    """End the call (close the stream; the TwiML after ``</Connect>`` has no more verbs)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Metric:
    """A measurement for the metrics layer; ``value`` in the unit the name ends with."""

    name: str
    value: float


PhoneAction = SendToTwilio | SendUpstream | HangUp | Metric
"""``SendUpstream`` is the one from :mod:`voxgate.protocol.conversation`, so the bridge handles one type."""


# -- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhoneConfig:
    input_format: AudioFormat = "audio/pcmu"
    """``session.audio.input.format.type`` of the upstream session."""
    output_format: AudioFormat = "audio/pcmu"
    """``session.audio.output.format.type`` of the upstream session."""
    outbound_frame_ms: int = 20
    """The unit outbound audio is cut into (20 ms is what Twilio sends us); a partial frame waits."""
    outbound_message_ms: int = 0
    """Largest Twilio ``media`` message: the whole frames of one delta are joined up to this size, so
    fewer, larger messages leave per second of audio (Twilio accepts any size). 0: one frame each."""
    inbound_batch_ms: int = 80
    """Caller audio per ``input_audio_buffer.append``: fewer events than 20 ms, still prompt VAD."""
    interrupt_response: bool = True
    """The session's ``turn_detection.interrupt_response``: false means we cancel on barge-in ourselves."""
    extrapolate_playback: bool = True
    """Add the time since playback of the current segment began, capped at the segment's end."""
    unheard_item: Literal["delete", "skip"] = "delete"
    """What to do with an interrupted assistant item the caller heard none of."""
    dtmf_mode: Literal["each", "collect", "off"] = "each"
    dtmf_interrupts: bool = True
    dtmf_text: str = "The caller pressed {digits}."
    dtmf_collected_text: str = "The caller entered {digits}."
    dtmf_terminator: str = "#"
    dtmf_timeout_s: float = 3.0
    dtmf_max_digits: int = 0
    """Collected digits are sent once this many arrived; 0 = only on terminator or timeout."""
    hangup_timeout_s: float = 20.0
    """Hang up this long after the request even if the last mark never comes back."""
    resample_quality: str = "HQ"

    def __post_init__(self) -> None:
        for name in ("input_format", "output_format"):
            if getattr(self, name) not in SUPPORTED_FORMATS:
                raise ValueError(f"{name} must be one of {sorted(SUPPORTED_FORMATS)}")
        if self.outbound_frame_ms <= 0 or self.inbound_batch_ms <= 0:
            raise ValueError("frame and batch sizes must be positive")
        if self.outbound_message_ms and self.outbound_message_ms % self.outbound_frame_ms:
            raise ValueError("outbound_message_ms must be a multiple of outbound_frame_ms")
        if self.dtmf_max_digits < 0 or self.hangup_timeout_s <= 0 or self.dtmf_timeout_s <= 0:
            raise ValueError("DTMF and hang-up limits must be positive")


# -- state -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class PhoneStats:
    """Counters; byte counts say which domain they are in (upstream format or Twilio mu-law)."""

    inbound_bytes: int = 0
    """Caller mu-law received from Twilio."""
    appended_bytes: int = 0
    """Audio sent upstream in ``input_audio_buffer.append`` (input format)."""
    outbound_accepted_bytes: int = 0
    """Upstream audio taken for playback (output format)."""
    outbound_dropped_bytes: int = 0
    """Late upstream audio of cancelled responses or interrupted items, never converted (output format)."""
    twilio_sent_bytes: int = 0
    """Mu-law sent to Twilio in ``media`` messages."""
    twilio_cleared_bytes: int = 0
    """Of those, not confirmed played when a ``clear`` discarded them."""
    unsent_discarded_bytes: int = 0
    """Mu-law already converted but still held back (short of a frame) when a barge-in dropped it."""
    marks_sent: int = 0
    marks_echoed: int = 0
    marks_ignored: int = 0
    barge_ins: int = 0
    truncates: int = 0
    deletes: int = 0


@dataclass(slots=True)
class _Item:
    """One assistant audio item as far as playback is concerned."""

    item_id: str
    response_id: str
    produced_bytes: int = 0
    sent_bytes: int = 0
    heard_ms: float = 0.0


@dataclass(slots=True)
class _Segment:
    """Audio sent to Twilio between two marks; ``start_ms``/``end_ms`` in the item's own timeline."""

    name: str
    item_id: str
    start_ms: float
    end_ms: float
    sent_at: float


@dataclass(slots=True)
class _HangupRequest:
    reason: str
    requested_at: float
    awaiting_new_response: bool


def mark_name(item_id: str, cumulative_ms: float, seq: int) -> str:
    """``item:ms:seq``: readable in Twilio's logs; ``seq`` keeps names unique across barge-ins."""
    return f"{item_id}:{int(cumulative_ms)}:{seq}"


def parse_mark_name(name: str) -> tuple[str, int, int] | None:
    """``(item_id, cumulative_ms, seq)`` of a name made by :func:`mark_name`, else ``None``."""
    parts = name.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def _b64_len(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=")


class PhoneCall:
    """The state of one call; feed it every Twilio message and every upstream server event."""

    def __init__(self, config: PhoneConfig | None = None) -> None:
        self.config = config or PhoneConfig()
        cfg = self.config
        self.stats = PhoneStats()
        self.start: Start | None = None
        self.digits = ""
        """Every DTMF digit the caller pressed, in order."""
        self.ended = False
        """Twilio sent ``stop``: the caller is gone."""
        self.hung_up = False
        """A :class:`HangUp` was emitted."""

        self._twilio: TwilioOutbound | None = None
        self._events = 0

        # Outbound: upstream audio -> Twilio.
        self._out_rate = BYTES_PER_MS[cfg.output_format]
        self._out_conv = StreamConverter(cfg.output_format, TWILIO_FORMAT, cfg.resample_quality)
        self._out_split = FrameSplitter(cfg.outbound_frame_ms * TWILIO_BYTES_PER_MS)
        self._frames_per_message = max(1, cfg.outbound_message_ms // cfg.outbound_frame_ms)
        self._items: dict[str, _Item] = {}
        self._current: _Item | None = None  # the item whose audio the converter and splitter hold
        self._pending: deque[_Segment] = deque()  # sent, not yet echoed; Twilio echoes in order
        self._last_echo_at: float | None = None
        self._mark_seq = 0
        self._active_response: str | None = None
        self._cancelled: set[str] = set()  # responses whose further audio is dropped
        self._discarded: set[str] = set()  # items whose further audio is dropped

        # Inbound: caller audio -> upstream.
        self._in_conv = StreamConverter(TWILIO_FORMAT, cfg.input_format, cfg.resample_quality)
        in_batch = int(cfg.inbound_batch_ms * BYTES_PER_MS[cfg.input_format])
        self._in_split = FrameSplitter(
            in_batch - in_batch % 2 if cfg.input_format == "audio/pcm" else in_batch
        )

        # Turn latency: speech_stopped -> first audio of the response created after it.
        self._speech_stopped_at: float | None = None
        self._latency_response: str | None = None

        self._hangup: _HangupRequest | None = None
        self._dtmf_buffer = ""
        self._dtmf_last_at = 0.0
        self._deferred_response_create = False

        self._upstream_handlers: dict[str, Callable[[JSON, float], list[PhoneAction]]] = {
            "response.output_audio.done": self._on_audio_done,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
        }

    # -- read-only views -------------------------------------------------------------------------
    @property
    def stream_sid(self) -> str | None:
        return self.start.stream_sid if self.start else None

    @property
    def playing(self) -> bool:
        """Audio was sent to Twilio and not all of it is confirmed played."""
        return bool(self._pending)

    @property
    def buffered_out_bytes(self) -> int:
        """Converted mu-law held back until it fills a frame (sent with the next delta or the item's end)."""
        return self._out_split.pending

    @property
    def active_response_id(self) -> str | None:
        return self._active_response

    def produced_ms(self, item_id: str) -> float:
        """Audio the upstream produced for the item (as received; the truncate ceiling)."""
        item = self._items.get(item_id)
        return item.produced_bytes / self._out_rate if item else 0.0

    def heard_ms(self, item_id: str) -> float:
        """Audio of the item confirmed played by echoed marks."""
        item = self._items.get(item_id)
        return item.heard_ms if item else 0.0

    # -- inputs ----------------------------------------------------------------------------------
    def on_twilio_message(self, msg: TwilioMessage, now: float) -> list[PhoneAction]:
        if isinstance(msg, Media):
            return self._on_media(msg)
        if isinstance(msg, Mark):
            return self._on_mark(msg, now)
        if isinstance(msg, Dtmf):
            return self._on_dtmf(msg, now)
        if isinstance(msg, Start):
            return self._on_start(msg)
        if isinstance(msg, Stop):
            return self._on_stop()
        if isinstance(msg, Connected):
            return []
        raise PhoneError(f"not a Twilio message: {msg!r}")

    def on_upstream_event(self, event: JSON, now: float) -> list[PhoneAction]:
        kind = event.get("type")
        if kind == "response.output_audio.delta":
            return self._on_audio_delta(event, now)
        handler = self._upstream_handlers.get(kind) if isinstance(kind, str) else None
        return handler(event, now) if handler is not None else []

    def request_hangup(
        self, now: float, reason: str = "end_call", *, after_next_response: bool = False
    ) -> list[PhoneAction]:
        """Hang up once the current response is done and its last audio has been heard.

        ``after_next_response``: the goodbye is in a response not created yet (for example the one
        that follows a tool's output), so wait for a new response to be created and finish first.
        A barge-in does not cancel the request; :meth:`cancel_hangup` does.
        """
        if self.ended or self.hung_up:
            return []
        self._hangup = _HangupRequest(reason, now, after_next_response)
        return self._maybe_hang_up()

    def cancel_hangup(self) -> None:
        self._hangup = None

    def tick(self, now: float) -> list[PhoneAction]:
        """Timers: hang-up deadline, DTMF collection timeout. Call it every few hundred ms."""
        actions: list[PhoneAction] = []
        if self._dtmf_buffer and now - self._dtmf_last_at >= self.config.dtmf_timeout_s:
            actions += self._send_collected_digits()
        hangup = self._hangup
        if (
            hangup is not None
            and not self.hung_up
            and now - hangup.requested_at >= self.config.hangup_timeout_s
        ):
            self.hung_up = True
            self._hangup = None
            actions.append(HangUp(hangup.reason + " (timed out waiting for playback)"))
        return actions

    # -- outbound audio --------------------------------------------------------------------------
    def _on_audio_delta(self, event: JSON, now: float) -> list[PhoneAction]:
        response_id = event.get("response_id", "")
        item_id = event.get("item_id", "")
        payload = event.get("delta", "")
        if not isinstance(payload, str):
            raise PhoneError("response.output_audio.delta without a string 'delta'")
        if self.ended or response_id in self._cancelled or item_id in self._discarded:
            self.stats.outbound_dropped_bytes += _b64_len(payload)
            return []
        try:
            audio = binascii.a2b_base64(payload, strict_mode=True)
        except binascii.Error as exc:
            raise PhoneError(f"response.output_audio.delta is not valid base64: {exc}") from None
        actions: list[PhoneAction] = []
        item = self._current
        if item is None or item.item_id != item_id:
            if item is not None:
                self._finish_item(item, now, actions)
            item = self._items.get(item_id)
            if item is None:
                item = self._items[item_id] = _Item(item_id, response_id)
            self._current = item
        item.produced_bytes += len(audio)
        self.stats.outbound_accepted_bytes += len(audio)
        frames = self._out_split.push(self._out_conv.process(audio))
        if frames:
            self._send_frames(item, frames, now, actions)
            if self._latency_response == response_id and self._speech_stopped_at is not None:
                actions.append(Metric("turn_latency_ms", (now - self._speech_stopped_at) * 1000.0))
                self._latency_response = self._speech_stopped_at = None
        return actions

    def _send_frames(self, item: _Item, frames: list[bytes], now: float, actions: list[PhoneAction]) -> None:
        twilio = self._twilio
        if twilio is None:
            raise PhoneError("upstream audio arrived before Twilio's 'start' message")
        size = 0
        per = self._frames_per_message
        if per > 1 and len(frames) > 1:
            frames = [b"".join(frames[i : i + per]) for i in range(0, len(frames), per)]
        for frame in frames:
            actions.append(SendToTwilio(twilio.media(frame)))
            size += len(frame)
        start_ms = item.sent_bytes / TWILIO_BYTES_PER_MS
        item.sent_bytes += size
        self.stats.twilio_sent_bytes += size
        end_ms = item.sent_bytes / TWILIO_BYTES_PER_MS
        self._mark_seq += 1
        name = mark_name(item.item_id, end_ms, self._mark_seq)
        self._pending.append(_Segment(name, item.item_id, start_ms, end_ms, now))
        self.stats.marks_sent += 1
        actions.append(SendToTwilio(twilio.mark(name)))

    def _finish_item(self, item: _Item, now: float, actions: list[PhoneAction]) -> None:
        """The item's audio is complete: send what the resampler and the splitter still hold."""
        frames = self._out_split.push(self._out_conv.flush())
        rest = self._out_split.flush()
        if rest:
            frames.append(rest)
        if frames:
            self._send_frames(item, frames, now, actions)
        if self._current is item:
            self._current = None

    def _on_audio_done(self, event: JSON, now: float) -> list[PhoneAction]:
        item = self._current
        if item is None or item.item_id != event.get("item_id"):
            return []
        actions: list[PhoneAction] = []
        self._finish_item(item, now, actions)
        return actions

    def _on_response_created(self, event: JSON, now: float) -> list[PhoneAction]:
        response = event.get("response") or {}
        response_id = response.get("id")
        if not isinstance(response_id, str):
            return []
        self._active_response = response_id
        if self._speech_stopped_at is not None and self._latency_response is None:
            self._latency_response = response_id
        if self._hangup is not None and self._hangup.awaiting_new_response:
            self._hangup.awaiting_new_response = False
        return []

    def _on_response_done(self, event: JSON, now: float) -> list[PhoneAction]:
        response = event.get("response") or {}
        response_id = response.get("id")
        actions: list[PhoneAction] = []
        item = self._current
        if item is not None and item.response_id == response_id:
            self._finish_item(item, now, actions)
        if response_id == self._active_response:
            self._active_response = None
        if isinstance(response_id, str):
            # Nothing of a response follows its response.done, so its drop marker has done its job.
            self._cancelled.discard(response_id)
        if self._latency_response == response_id:
            self._latency_response = None
        if self._deferred_response_create and self._active_response is None:
            self._deferred_response_create = False
            actions.append(
                SendUpstream({"type": "response.create", "event_id": self._event_id("dtmf_response")})
            )
        actions += self._maybe_hang_up()
        return actions

    def _on_mark(self, msg: Mark, now: float) -> list[PhoneAction]:
        pending = self._pending
        name = msg.name
        if not any(segment.name == name for segment in pending):
            # Echoes of marks discarded by a clear land here: they do not mean the audio played.
            self.stats.marks_ignored += 1
            return []
        while pending:
            segment = pending.popleft()
            item = self._items.get(segment.item_id)
            if item is not None and segment.end_ms > item.heard_ms:
                item.heard_ms = segment.end_ms
            if segment.name == name:
                break
        self.stats.marks_echoed += 1
        self._last_echo_at = now
        return self._maybe_hang_up()

    # -- barge-in --------------------------------------------------------------------------------
    def _on_speech_started(self, event: JSON, now: float) -> list[PhoneAction]:
        self._speech_stopped_at = None
        self._latency_response = None
        actions = self._interrupt(now, cancel_active=not self.config.interrupt_response)
        return actions + self._maybe_hang_up() if self._hangup is not None else actions

    def _on_speech_stopped(self, event: JSON, now: float) -> list[PhoneAction]:
        self._speech_stopped_at = now
        self._latency_response = None
        return []

    def _playback_position(self, item: _Item, now: float) -> float:
        """How much of ``item`` the caller has heard, in the item's own milliseconds."""
        head = self._pending[0] if self._pending else None
        if head is None or head.item_id != item.item_id:
            return item.heard_ms
        position = max(head.start_ms, item.heard_ms)
        if self.config.extrapolate_playback:
            # The head segment began playing when it was sent or when the one before it finished,
            # whichever came later; Twilio plays in real time from there.
            began = head.sent_at if self._last_echo_at is None else max(head.sent_at, self._last_echo_at)
            position += min(max(0.0, (now - began) * 1000.0), head.end_ms - position)
        return position

    def _interrupt(self, now: float, *, cancel_active: bool) -> list[PhoneAction]:
        """Stop the assistant: what the caller has not heard is discarded here, at Twilio and upstream.

        Order matters only within each socket: Twilio's ``clear`` first (it is what the caller
        notices), then upstream ``response.cancel`` before ``truncate`` so the item is final when cut.
        """
        actions: list[PhoneAction] = []
        cancel: SendUpstream | None = None
        response_id = self._active_response
        if response_id is not None and response_id not in self._cancelled:
            self._cancelled.add(response_id)
            if cancel_active:
                cancel = SendUpstream(
                    {
                        "type": "response.cancel",
                        "event_id": self._event_id("cancel"),
                        "response_id": response_id,
                    }
                )
        current = self._current
        unsent = current is not None and (
            current.produced_bytes / self._out_rate - current.sent_bytes / TWILIO_BYTES_PER_MS >= 1.0
        )
        if not self._pending and not unsent:
            return [cancel] if cancel is not None else []

        target = self._items[self._pending[0].item_id] if self._pending else current
        assert target is not None  # one of the two conditions above holds
        heard = self._playback_position(target, now)
        # Never past what the upstream produced: that is the "already shorter" error.
        audio_end_ms = int(min(heard, target.produced_bytes / self._out_rate))

        affected = {segment.item_id for segment in self._pending}
        if current is not None:
            affected.add(current.item_id)
        if self._pending and self._twilio is not None:
            actions.append(SendToTwilio(self._twilio.clear()))
            cleared_ms = sum(s.end_ms - s.start_ms for s in self._pending)
            self.stats.twilio_cleared_bytes += int(cleared_ms * TWILIO_BYTES_PER_MS)
        if cancel is not None:
            actions.append(cancel)
        self._pending.clear()
        self.stats.unsent_discarded_bytes += len(self._out_split.flush())
        self._out_conv.reset()
        self._current = None
        self._discarded |= affected
        self.stats.barge_ins += 1

        if audio_end_ms > 0:
            self.stats.truncates += 1
            actions.append(
                SendUpstream(
                    {
                        "type": "conversation.item.truncate",
                        "event_id": self._event_id("truncate"),
                        "item_id": target.item_id,
                        "content_index": 0,
                        "audio_end_ms": audio_end_ms,
                    }
                )
            )
        if self.config.unheard_item == "delete":
            # Unheard items leave the context entirely, including ones queued behind the playing
            # item (section 20.1, step 4): the model should not remember saying them.
            for item_id in [i for i in self._items if i in affected]:
                if (item_id == target.item_id and audio_end_ms > 0) or self._items[item_id].heard_ms > 0:
                    continue
                self.stats.deletes += 1
                actions.append(
                    SendUpstream(
                        {
                            "type": "conversation.item.delete",
                            "event_id": self._event_id("delete"),
                            "item_id": item_id,
                        }
                    )
                )
        actions.append(Metric("barge_in_heard_ms", float(audio_end_ms)))
        return actions

    # -- inbound audio ---------------------------------------------------------------------------
    def _on_media(self, msg: Media) -> list[PhoneAction]:
        if msg.track != "inbound" or self.ended:
            return []
        self.stats.inbound_bytes += len(msg.audio)
        batches = self._in_split.push(self._in_conv.process(msg.audio))
        return [self._append(batch) for batch in batches] if batches else []

    def _append(self, audio: bytes) -> SendUpstream:
        self.stats.appended_bytes += len(audio)
        return SendUpstream(
            {
                "type": "input_audio_buffer.append",
                "audio": binascii.b2a_base64(audio, newline=False).decode("ascii"),
            }
        )

    def _on_start(self, msg: Start) -> list[PhoneAction]:
        if self.start is not None:
            raise PhoneError("Twilio sent a second 'start' on the same stream")
        fmt = msg.media_format
        if fmt.encoding != "audio/x-mulaw" or fmt.sample_rate != 8000 or fmt.channels != 1:
            raise PhoneError(f"unsupported Twilio media format {fmt}; only mu-law 8 kHz mono is handled")
        self.start = msg
        self._twilio = TwilioOutbound(msg.stream_sid)
        return []

    def _on_stop(self) -> list[PhoneAction]:
        if self.ended:
            return []
        self.ended = True
        self._hangup = None
        batches = self._in_split.push(self._in_conv.flush())
        rest = self._in_split.flush()
        if rest:
            batches.append(rest)
        return [self._append(batch) for batch in batches]

    # -- DTMF ------------------------------------------------------------------------------------
    def _on_dtmf(self, msg: Dtmf, now: float) -> list[PhoneAction]:
        digit = msg.digit.upper()
        if digit not in DTMF_DIGITS:
            raise PhoneError(f"{msg.digit!r} is not a DTMF digit")
        self.digits += digit
        cfg = self.config
        if cfg.dtmf_mode == "off" or self.ended:
            return []
        actions: list[PhoneAction] = []
        if cfg.dtmf_interrupts:
            # Keypresses are not speech: the upstream's VAD will not cancel anything for us.
            actions += self._interrupt(now, cancel_active=True)
            actions += self._maybe_hang_up()
        if cfg.dtmf_mode == "each":
            actions += self._user_text(cfg.dtmf_text.format(digits=digit))
            return actions
        if digit == cfg.dtmf_terminator:
            actions += self._send_collected_digits()
            return actions
        self._dtmf_buffer += digit
        self._dtmf_last_at = now
        if cfg.dtmf_max_digits and len(self._dtmf_buffer) >= cfg.dtmf_max_digits:
            actions += self._send_collected_digits()
        return actions

    def _send_collected_digits(self) -> list[PhoneAction]:
        digits, self._dtmf_buffer = self._dtmf_buffer, ""
        if not digits:
            return []
        return self._user_text(self.config.dtmf_collected_text.format(digits=digits))

    def _user_text(self, text: str) -> list[PhoneAction]:
        actions: list[PhoneAction] = [
            SendUpstream(
                {
                    "type": "conversation.item.create",
                    "event_id": self._event_id("dtmf"),
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                }
            )
        ]
        if self._active_response is None:
            actions.append(
                SendUpstream({"type": "response.create", "event_id": self._event_id("dtmf_response")})
            )
        else:
            # One response at a time: ask for the answer once the current one is done.
            self._deferred_response_create = True
        return actions

    # -- hang-up ---------------------------------------------------------------------------------
    def _maybe_hang_up(self) -> list[PhoneAction]:
        hangup = self._hangup
        if (
            hangup is None
            or self.hung_up
            or hangup.awaiting_new_response
            or self._active_response is not None
            or self._pending
            or self._current is not None
        ):
            return []
        self.hung_up = True
        self._hangup = None
        return [HangUp(hangup.reason)]

    def _event_id(self, purpose: str) -> str:
        self._events += 1
        return f"{GATEWAY_EVENT_PREFIX}phone_{purpose}_{self._events}"
