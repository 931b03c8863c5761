"""An offline, protocol-faithful simulator of the OpenAI Realtime API (GA).

The ``openai`` SDK talks to it exactly as to OpenAI::

    app = create_simulator_app(SimulatorOptions(pace="fast"))
    # serve with uvicorn, then:
    AsyncOpenAI(api_key="any", websocket_base_url="ws://127.0.0.1:PORT/v1").realtime.connect(model=...)

The protocol core (``engine.RealtimeEngine``) is pure: events and the current time in, events and
actions out. ``server.py`` is the only module that awaits sockets (through ``connection.py``).
"""

from voxgate.simulator.actions import Action, Close, Send
from voxgate.simulator.brain import Brain, BrainInput, Reply
from voxgate.simulator.engine import EngineConfig, RealtimeEngine
from voxgate.simulator.hearing import PlaceholderRecognizer, Recognizer, ScriptedRecognizer
from voxgate.simulator.options import SimulatorOptions
from voxgate.simulator.scenario import (
    Scenario,
    ScenarioError,
    Step,
    load_scenario,
    parse_scenario,
    shipped_scenario,
    shipped_scenario_names,
)
from voxgate.simulator.server import Simulator, create_simulator_app
from voxgate.simulator.voice import Synthesizer, SyntheticVoice, synthetic_voice

__all__ = [
    "Action",
    "Brain",
    "BrainInput",
    "Close",
    "EngineConfig",
    "PlaceholderRecognizer",
    "RealtimeEngine",
    "Recognizer",
    "Reply",
    "Scenario",
    "ScenarioError",
    "ScriptedRecognizer",
    "Send",
    "Simulator",
    "SimulatorOptions",
    "Step",
    "Synthesizer",
    "SyntheticVoice",
    "create_simulator_app",
    "load_scenario",
    "parse_scenario",
    "shipped_scenario",
    "shipped_scenario_names",
    "synthetic_voice",
]
