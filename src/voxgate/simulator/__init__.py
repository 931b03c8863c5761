"""An offline, protocol-faithful simulator of the OpenAI Realtime API (GA).

The ``openai`` SDK talks to it exactly as to OpenAI::

    app = create_simulator_app(SimulatorOptions(pace="fast"))
    # serve with uvicorn, then:
    AsyncOpenAI(api_key="any", websocket_base_url="ws://127.0.0.1:PORT/v1").realtime.connect(model=...)

The protocol core (``engine.RealtimeEngine``) is pure: events and the current time in, events and
actions out. ``server.py`` is the only module that awaits sockets (through ``connection.py``).

It speaks with espeak-ng (``espeak.py``) and hears English with pocketsphinx (``sphinx.py``), both
from their wheels, offline; the work runs in worker pools (``workers.py``), never on the loop.
"""

from voxgate.simulator.actions import Action, Close, Send
from voxgate.simulator.brain import Brain, BrainInput, Reply
from voxgate.simulator.engine import EngineConfig, RealtimeEngine
from voxgate.simulator.espeak import EspeakVoice, caller_speech
from voxgate.simulator.hearing import (
    PlaceholderRecognizer,
    Recognizer,
    ScriptedRecognizer,
    default_recognizer,
)
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
from voxgate.simulator.sphinx import SphinxRecognizer
from voxgate.simulator.voice import (
    Synthesizer,
    SyntheticVoice,
    TimedSpeech,
    TimedSynthesizer,
    default_voice,
    synthetic_voice,
)
from voxgate.simulator.work import Work

__all__ = [
    "Action",
    "Brain",
    "BrainInput",
    "Close",
    "EngineConfig",
    "EspeakVoice",
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
    "SphinxRecognizer",
    "Step",
    "Synthesizer",
    "SyntheticVoice",
    "TimedSpeech",
    "TimedSynthesizer",
    "Work",
    "caller_speech",
    "create_simulator_app",
    "default_recognizer",
    "default_voice",
    "load_scenario",
    "parse_scenario",
    "shipped_scenario",
    "shipped_scenario_names",
    "synthetic_voice",
]
