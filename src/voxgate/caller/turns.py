"""When the simulated caller speaks, presses keys or hangs up: turn-taking as a pure state machine.

The I/O loop reports what happened on each 20 ms tick (how much agent audio played, whether agent
audio arrived) with the time in milliseconds since the stream started; the machine answers with
what to do next. It also keeps the numbers the timeline prints: the greeting's latency, each turn's
response latency (end of the caller's speech to the agent's first audio arriving) and barge-ins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

State = Literal["greeting", "speaking", "waiting", "lingering", "awaiting_hangup", "done"]


@dataclass(frozen=True, slots=True)
class Speak:
    audio: bytes
    """Mu-law 8 kHz."""
    label: str


@dataclass(frozen=True, slots=True)
class Press:
    digits: str


Step = Speak | Press


@dataclass(slots=True)
class Script:
    steps: list[Step] = field(default_factory=list)
    barge_in_at_ms: float | None = None
    """Start the first ``Speak`` this far into the agent's first reply (the greeting), talking over it."""
    reply_silence_ms: float = 900.0
    """The agent's turn is over once nothing has played for this long."""
    max_wait_ms: float = 20_000.0
    """Give up waiting for a reply after this long."""
    linger_ms: float = 600.0
    """After the last reply, stay on the line this long before hanging up."""
    hang_up: bool = True
    """False: after the script, wait for the agent to end the call (``end_call``)."""


@dataclass(slots=True)
class Turn:
    label: str
    started_ms: float
    ended_ms: float | None = None
    reply_started_ms: float | None = None
    """The agent's first audio after this turn arrived."""
    barge_in: bool = False

    @property
    def latency_ms(self) -> float | None:
        if self.ended_ms is None or self.reply_started_ms is None:
            return None
        return self.reply_started_ms - self.ended_ms


@dataclass(frozen=True, slots=True)
class StartSpeaking:
    step: Speak


@dataclass(frozen=True, slots=True)
class SendDigits:
    digits: str


@dataclass(frozen=True, slots=True)
class HangUpNow:
    reason: str


Command = StartSpeaking | SendDigits | HangUpNow


class TurnTaker:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.state: State = "greeting"
        self.turns: list[Turn] = []
        self.greeting_ms: float | None = None
        """When the greeting's first audio arrived."""
        self._next = 0
        self._waiting_since = 0.0
        self._reply_heard_ms = 0.0  # agent audio played since the current wait began
        self._last_played_ms: float | None = None
        self._linger_since = 0.0

    @property
    def reply_heard_ms(self) -> float:
        """Agent audio played since the caller last stopped speaking (or since the call began)."""
        return self._reply_heard_ms

    # -- observations --------------------------------------------------------------------------------
    def agent_audio_arrived(self, now_ms: float) -> None:
        if self.greeting_ms is None:
            self.greeting_ms = now_ms
        turn = self.turns[-1] if self.turns else None
        if (
            turn is not None
            and turn.ended_ms is not None
            and turn.reply_started_ms is None
            and now_ms >= turn.ended_ms
        ):
            turn.reply_started_ms = now_ms

    def finished_speaking(self, now_ms: float) -> None:
        if self.turns and self.turns[-1].ended_ms is None:
            self.turns[-1].ended_ms = now_ms
        self._wait(now_ms)

    def tick(self, now_ms: float, played_ms: float) -> Command | None:
        """One tick: ``played_ms`` of agent audio played during it."""
        if played_ms > 0:
            self._last_played_ms = now_ms
            self._reply_heard_ms += played_ms
        if self.state == "greeting":
            barge_at = self.script.barge_in_at_ms
            if barge_at is not None and self._reply_heard_ms >= barge_at and self._has_speak_next():
                return self._advance(now_ms, barge_in=True)
            if self._reply_over(now_ms) or now_ms - self._waiting_since >= self.script.max_wait_ms:
                return self._advance(now_ms)
        elif self.state == "waiting":
            if self._reply_over(now_ms) or now_ms - self._waiting_since >= self.script.max_wait_ms:
                return self._advance(now_ms)
        elif self.state == "lingering":
            if now_ms - self._linger_since >= self.script.linger_ms:
                self.state = "done"
                return HangUpNow("the script is over")
        elif self.state == "awaiting_hangup" and now_ms - self._linger_since >= self.script.max_wait_ms:
            self.state = "done"
            return HangUpNow("the agent did not end the call")
        return None

    # -- internals ---------------------------------------------------------------------------------
    def _has_speak_next(self) -> bool:
        return self._next < len(self.script.steps) and isinstance(self.script.steps[self._next], Speak)

    def _reply_over(self, now_ms: float) -> bool:
        last = self._last_played_ms
        return self._reply_heard_ms > 0 and last is not None and now_ms - last >= self.script.reply_silence_ms

    def _wait(self, now_ms: float) -> None:
        self.state = "waiting"
        self._waiting_since = now_ms
        self._reply_heard_ms = 0.0

    def _advance(self, now_ms: float, *, barge_in: bool = False) -> Command | None:
        if self._next >= len(self.script.steps):
            self._linger_since = now_ms
            self.state = "lingering" if self.script.hang_up else "awaiting_hangup"
            return None
        step = self.script.steps[self._next]
        self._next += 1
        if isinstance(step, Speak):
            self.state = "speaking"
            self.turns.append(Turn(step.label, now_ms, barge_in=barge_in))
            return StartSpeaking(step)
        self.turns.append(Turn(f"DTMF {step.digits}", now_ms, ended_ms=now_ms))
        self._wait(now_ms)
        return SendDigits(step.digits)
