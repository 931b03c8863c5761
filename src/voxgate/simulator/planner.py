"""Turn the brain's reply into response outputs: spoken chunks with their audio, function calls.

A message is cut into chunks of a word or a few words; each chunk is synthesised on its own, so the
transcript delta of a chunk is followed by exactly the audio of those words, and a truncation at
any audio position maps back to the words heard. ``max_output_tokens`` cuts the plan short.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final, Literal

import orjson

from voxgate.protocol.audio import duration_ms
from voxgate.simulator.accounting import OUTPUT_AUDIO_TOKENS_PER_SECOND, audio_tokens, text_tokens
from voxgate.simulator.codec import from_pcm24k
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.turns import Call, Reply, Say
from voxgate.simulator.voice import Synthesizer

CHUNK_CHARS: Final = 10
_TOKEN = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    audio: bytes  # in the response's output format; empty for text responses
    audio_ms: float


@dataclass(slots=True)
class MessageOut:
    item_id: str
    chunks: list[Chunk]
    cut: bool = False  # max_output_tokens stopped it early
    text: str = ""
    audio_ms: float = 0.0
    part_open: bool = False


@dataclass(slots=True)
class CallOut:
    item_id: str
    call_id: str
    name: str
    arguments: str
    pieces: list[str] = field(default_factory=list)
    sent: str = ""
    cut: bool = False


Output = MessageOut | CallOut


@dataclass(frozen=True, slots=True)
class Plan:
    outputs: list[Output]
    incomplete: bool  # stopped by max_output_tokens


def split_words(text: str) -> list[str]:
    """Chunks of a word or a few words; their concatenation is ``text``."""
    chunks: list[str] = []
    current = ""
    for token in _TOKEN.findall(text.strip()):
        current += token
        if len(current.strip()) >= CHUNK_CHARS or current.rstrip()[-1:] in ".,!?;:":
            chunks.append(current)
            current = ""
    if current:
        chunks.append(current)
    return chunks


def split_arguments(arguments: str, pieces: int = 4) -> list[str]:
    """The arguments JSON in a few deltas (at least one, never empty strings)."""
    if not arguments:
        return [""]
    size = max(1, math.ceil(len(arguments) / pieces))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def plan_reply(
    reply: Reply,
    *,
    audio: bool,
    output_format: str,
    synthesizer: Synthesizer,
    ids: IdFactory,
    max_output_tokens: int | Literal["inf"],
) -> Plan:
    budget = math.inf if max_output_tokens == "inf" else float(max_output_tokens)
    spent = 0.0
    outputs: list[Output] = []
    for output in reply.outputs:
        if spent >= budget:
            return Plan(outputs, incomplete=True)
        if isinstance(output, Say):
            message = MessageOut(ids("item_"), [])
            for text in split_words(output.text):
                chunk = _chunk(text, reply.language, audio, output_format, synthesizer)
                cost = text_tokens(text) + (
                    audio_tokens(chunk.audio_ms, OUTPUT_AUDIO_TOKENS_PER_SECOND) if audio else 0
                )
                if spent + cost > budget:
                    message.cut = True
                    outputs.append(message)
                    return Plan(outputs, incomplete=True)
                spent += cost
                message.chunks.append(chunk)
            outputs.append(message)
        elif isinstance(output, Call):
            arguments = orjson.dumps(output.arguments).decode()
            spent += text_tokens(output.name + arguments)
            outputs.append(
                CallOut(ids("item_"), ids.call_id(), output.name, arguments, split_arguments(arguments))
            )
    return Plan(outputs, incomplete=False)


def _chunk(text: str, language: str, audio: bool, output_format: str, synthesizer: Synthesizer) -> Chunk:
    if not audio:
        return Chunk(text, b"", 0.0)
    encoded = _audio(synthesizer, text, language, output_format)
    return Chunk(text, encoded, duration_ms(len(encoded), output_format))


AUDIO_CACHE_SIZE: Final = 4096
_audio_cache: OrderedDict[tuple[Hashable, str, str, str], bytes] = OrderedDict()


def _audio(synthesizer: Synthesizer, text: str, language: str, output_format: str) -> bytes:
    """Greetings and stock phrases repeat across calls; their audio is made once (LRU)."""
    if not isinstance(synthesizer, Hashable):
        return from_pcm24k(synthesizer.synthesize(text, language), output_format)
    key = (synthesizer, text, language, output_format)
    cached = _audio_cache.get(key)
    if cached is None:
        cached = from_pcm24k(synthesizer.synthesize(text, language), output_format)
        _audio_cache[key] = cached
        if len(_audio_cache) > AUDIO_CACHE_SIZE:
            _audio_cache.popitem(last=False)
    else:
        _audio_cache.move_to_end(key)
    return cached
