"""What the pure protocol core asks the I/O layer to do."""

from __future__ import annotations

from dataclasses import dataclass

from voxgate.protocol.realtime import JSON
from voxgate.simulator.work import Work


@dataclass(frozen=True, slots=True)
class Send:
    """Send this server event to the client."""

    event: JSON


@dataclass(frozen=True, slots=True)
class Close:
    """Close the WebSocket with this code and reason; nothing is sent after it."""

    code: int
    reason: str


Action = Send | Close | Work

__all__ = ["Action", "Close", "Send", "Work"]
