"""Hostile and random client frames: the engine answers with valid events and never raises."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simkit import EngineHarness

from voxgate.protocol.realtime import CLIENT_EVENT_TYPES

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=12,
)
FIELDS = ["event_id", "item", "session", "response", "audio", "item_id", "audio_end_ms", "content_index",
          "previous_item_id", "response_id"]  # fmt: skip
plausible: dict[str, Any] = {
    "item": st.fixed_dictionaries(
        {"type": st.sampled_from(["message", "function_call", "function_call_output", "x"])},
        optional={
            "role": st.sampled_from(["user", "assistant", "system"]),
            "content": st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["input_text", "input_audio", "output_text", "output_audio"])},
                    optional={"text": st.text(max_size=30), "audio": st.sampled_from(["", "AAAA", "%%"])},
                ),
                max_size=2,
            ),
            "call_id": st.text(max_size=8),
            "name": st.text(max_size=8),
            "arguments": st.text(max_size=8),
            "output": st.text(max_size=20),
            "id": st.text(max_size=8),
        },
    ),
    "session": st.fixed_dictionaries(
        {"type": st.sampled_from(["realtime", "transcription", "x"])},
        optional={
            "instructions": st.text(max_size=30),
            "tools": st.lists(
                st.fixed_dictionaries({"type": st.just("function"), "name": st.text(max_size=8)})
            ),
            "output_modalities": st.lists(st.sampled_from(["audio", "text"]), max_size=2),
            "audio": st.fixed_dictionaries(
                {},
                optional={
                    "input": st.fixed_dictionaries(
                        {},
                        optional={
                            "format": st.fixed_dictionaries(
                                {"type": st.sampled_from(["audio/pcm", "audio/pcmu"])}
                            ),
                            "turn_detection": st.none()
                            | st.fixed_dictionaries({"type": st.just("server_vad")}),
                        },
                    ),
                },
            ),
        },
    ),
    "response": st.fixed_dictionaries(
        {},
        optional={
            "conversation": st.sampled_from(["auto", "none", "other"]),
            "output_modalities": st.lists(st.sampled_from(["audio", "text"]), max_size=2),
            "instructions": st.text(max_size=30),
            "max_output_tokens": st.integers(-5, 5000) | st.just("inf"),
            "input": st.lists(
                st.fixed_dictionaries({"type": st.just("item_reference"), "id": st.text(max_size=6)})
            ),
        },
    ),
    "audio": st.sampled_from(["", "AAAA", "not base64!", "////" * 50]),
}
events = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from(sorted(CLIENT_EVENT_TYPES)) | st.text(max_size=12),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4)
    | st.fixed_dictionaries({}, optional={k: v for k, v in plausible.items()}),
)
frames = st.lists(
    events.map(lambda e: orjson.dumps(e).decode()) | st.text(max_size=50) | st.binary(max_size=50),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames)
def test_random_frames_get_valid_answers(batch: list[str | bytes]) -> None:
    sim = EngineHarness()
    for frame in batch:
        sim.send(frame)  # validates every event it gets back
    sim.say("still answering?")
    sim.send({"type": "response.create", "response": {"output_modalities": ["text"], "conversation": "none"}})
