"""What the brain reads and what it decides, as plain data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

from voxgate.protocol.realtime import JSON
from voxgate.simulator.lang import Language

Role = Literal["user", "assistant", "system", "tool_call", "tool_output"]

PLACEHOLDER: Final = re.compile(r"^\[speech ([\d.]+) s\]$")
"""What the placeholder recogniser hears: no words, only how long the caller spoke."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One conversation item as the brain sees it."""

    role: Role
    text: str = ""
    name: str | None = None
    call_id: str | None = None
    arguments: str | None = None


@dataclass(frozen=True, slots=True)
class BrainInput:
    turns: Sequence[Turn]
    instructions: str
    tools: Sequence[JSON] = ()
    tool_choice: Any = "auto"
    response_instructions: str | None = None
    today: date = field(default_factory=lambda: date(2025, 1, 1))


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    arguments: JSON


@dataclass(frozen=True, slots=True)
class Drop:
    code: int
    reason: str
    after_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    outputs: tuple[Say | Call, ...]
    language: Language = "en"
    delay_ms: int = 0
    error: JSON | None = None
    fail: JSON | None = None
    drop: Drop | None = None
