"""How a simulator instance behaves; every field has a default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from voxgate.simulator.hearing import Recognizer, default_recognizer
from voxgate.simulator.scenario import Scenario
from voxgate.simulator.session_config import DEFAULT_MODEL, SESSION_SECONDS
from voxgate.simulator.voice import Synthesizer, default_voice

Pace = Literal["fast", "realtime"]


@dataclass
class SimulatorOptions:
    api_keys: frozenset[str] | None = None
    """None: any non-empty bearer is accepted; else only these (or unexpired minted ``ek_`` secrets)."""
    pace: Pace = "fast"
    """``realtime``: audio deltas paced at playback speed (a connection can ask with ``?sim_pace=``)."""
    scenarios: list[Scenario] = field(default_factory=list)
    """Active on every connection that does not pick its own with ``?sim_scenario=NAME[,NAME]``."""
    scenario_dirs: list[Path] = field(default_factory=list)
    """Searched (before the shipped scenarios) for ``NAME.json`` when a connection asks for NAME."""
    default_model: str = DEFAULT_MODEL
    timezone: str = "UTC"
    """Where "today" and "tomorrow" are, for the brain's dates."""
    session_seconds: float = SESSION_SECONDS
    realtime_lead_ms: float = 200.0
    """In realtime pace, how far ahead of playback audio is sent."""
    seed: int | None = None
    """Reproducible ids (each connection seeded with ``seed`` + its number)."""
    control_api: bool = True
    """Serve ``/v1/_simulator/...`` (session list, drop, error, delay hooks for tests)."""
    synthesizer_for: Callable[[str], Synthesizer] = default_voice
    """The voice: a synthesizer for a Realtime voice name (espeak-ng; ``synthetic_voice`` is the
    formant voice, which needs nothing)."""
    recognizer_factory: Callable[[], Recognizer] = default_recognizer
    """What the simulator hears in user audio (one recogniser per connection): pocketsphinx for
    English; ``PlaceholderRecognizer`` hears only how long the caller spoke."""
