"""Turn the brain's reply into response outputs: spoken chunks with their audio, function calls.

Planning has two halves, so that speech can be made off the event loop:

1. ``draft_reply`` (pure, on the engine's side) cuts each message into chunks of a word or a few
   words and gives every output its ids.
2. ``speak`` (in a worker) makes the audio of one message's chunks. A ``TimedSynthesizer`` speaks
   the whole message at once and the audio is cut at the word starts it reports; another
   synthesizer speaks each chunk on its own. Either way the transcript delta of a chunk is
   followed by exactly the audio of those words, and every word's span in the audio is known, so
   a truncation at any audio position maps back to the words heard.
3. ``plan_reply`` (pure) puts drafts and audio together; ``max_output_tokens`` cuts it short.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

import orjson

from voxgate.protocol.audio import SAMPLE_RATE, duration_ms
from voxgate.simulator.accounting import OUTPUT_AUDIO_TOKENS_PER_SECOND, audio_tokens, text_tokens
from voxgate.simulator.codec import from_pcm24k
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.items import Words
from voxgate.simulator.turns import Call, Reply, Say
from voxgate.simulator.voice import Synthesizer, TimedSynthesizer

CHUNK_CHARS: Final = 10
_TOKEN = re.compile(r"\S+\s*")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    audio: bytes  # in the response's output format; empty for text responses
    audio_ms: float
    words: tuple[Words, ...] = ()
    """Each word (with the spaces after it) and its span in ms from the chunk's start."""


@dataclass(frozen=True, slots=True)
class DraftMessage:
    item_id: str
    texts: tuple[str, ...]  # its chunks
    cut: bool = False  # the token budget ends inside it


@dataclass(frozen=True, slots=True)
class DraftCall:
    item_id: str
    call_id: str
    name: str
    arguments: str


Draft = DraftMessage | DraftCall


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


def draft_reply(reply: Reply, *, ids: IdFactory, max_output_tokens: int | Literal["inf"]) -> list[Draft]:
    """The reply's outputs with their ids and chunk texts. Chunks that cannot fit the token budget
    even as text are left out (nothing is synthesised for them); ``plan_reply`` makes the exact cut."""
    budget = math.inf if max_output_tokens == "inf" else float(max_output_tokens)
    spent = 0.0
    drafts: list[Draft] = []
    for output in reply.outputs:
        if isinstance(output, Say):
            texts: list[str] = []
            chunks = split_words(output.text)
            for text in chunks:
                if spent > budget:
                    break
                spent += text_tokens(text)
                texts.append(text)
            drafts.append(DraftMessage(ids("item_"), tuple(texts), cut=len(texts) < len(chunks)))
            if len(texts) < len(chunks):
                return drafts
        elif isinstance(output, Call):
            arguments = orjson.dumps(output.arguments).decode()
            spent += text_tokens(output.name + arguments)
            drafts.append(DraftCall(ids("item_"), ids.call_id(), output.name, arguments))
    return drafts


def plan_reply(
    drafts: Sequence[Draft],
    spoken: Sequence[Sequence[Chunk]] | None,
    *,
    max_output_tokens: int | Literal["inf"],
) -> Plan:
    """The response's outputs: ``spoken`` holds each message's chunks with audio, in order (None
    for a text response)."""
    budget = math.inf if max_output_tokens == "inf" else float(max_output_tokens)
    spent = 0.0
    outputs: list[Output] = []
    messages = iter(spoken or ())
    for draft in drafts:
        if spent >= budget:
            return Plan(outputs, incomplete=True)
        if isinstance(draft, DraftMessage):
            chunks = next(messages, None) if spoken is not None else None
            if chunks is None:
                chunks = [Chunk(text, b"", 0.0) for text in draft.texts]
            message = MessageOut(draft.item_id, [])
            for chunk in chunks:
                cost = text_tokens(chunk.text) + (
                    audio_tokens(chunk.audio_ms, OUTPUT_AUDIO_TOKENS_PER_SECOND) if spoken is not None else 0
                )
                if spent + cost > budget:
                    message.cut = True
                    outputs.append(message)
                    return Plan(outputs, incomplete=True)
                spent += cost
                message.chunks.append(chunk)
            outputs.append(message)
            if draft.cut:
                message.cut = True
                return Plan(outputs, incomplete=True)
        else:
            spent += text_tokens(draft.name + draft.arguments)
            outputs.append(
                CallOut(
                    draft.item_id,
                    draft.call_id,
                    draft.name,
                    draft.arguments,
                    split_arguments(draft.arguments),
                )
            )
    return Plan(outputs, incomplete=False)


def speak(
    synthesizer: Synthesizer, texts: Sequence[str], language: str, output_format: str
) -> tuple[Chunk, ...]:
    """The chunks of one message with their audio in ``output_format`` (runs in a worker)."""
    if not texts:
        return ()
    if isinstance(synthesizer, TimedSynthesizer):
        return _cached(
            ("message", synthesizer, tuple(texts), language, output_format),
            lambda: _speak_timed(synthesizer, tuple(texts), language, output_format),
        )
    return tuple(_chunk(text, language, output_format, synthesizer) for text in texts)


def _speak_timed(
    synthesizer: TimedSynthesizer, texts: tuple[str, ...], language: str, output_format: str
) -> tuple[Chunk, ...]:
    text = "".join(texts)
    speech = synthesizer.synthesize_timed(text, language)
    encoded = from_pcm24k(speech.pcm, output_format)
    width = 2 if output_format == "audio/pcm" else 1
    ratio = SAMPLE_RATE[output_format] / (SAMPLE_RATE["audio/pcm"])
    starts = {char: min(len(encoded), round(sample * ratio) * width) for char, sample in speech.word_starts}
    # each word (with its trailing spaces) and the byte where it starts; the first starts at 0
    words: list[tuple[int, str, int]] = []  # (character offset, word, byte offset)
    for match in _TOKEN.finditer(text):
        at = 0 if not words else max(words[-1][2], starts.get(match.start(), words[-1][2]))
        words.append((match.start(), match.group(), at))
    chunks: list[Chunk] = []
    offset = 0
    for number, chunk_text in enumerate(texts):
        mine = [w for w in words if offset <= w[0] < offset + len(chunk_text)]
        offset += len(chunk_text)
        begin = mine[0][2] if mine and number else 0
        following = [w for w in words if w[0] >= offset]
        end = following[0][2] if following else len(encoded)
        audio = encoded[begin:end]
        spans: list[Words] = []
        for index, (_, word, at) in enumerate(mine):
            until = mine[index + 1][2] if index + 1 < len(mine) else end
            spans.append(
                Words(word, duration_ms(at - begin, output_format), duration_ms(until - begin, output_format))
            )
        chunks.append(Chunk(chunk_text, audio, duration_ms(len(audio), output_format), tuple(spans)))
    return tuple(chunks)


def spread_words(text: str, audio_ms: float) -> tuple[Words, ...]:
    """Word spans for audio of ``text`` with no word timeline: shared out by letters."""
    tokens = _TOKEN.findall(text)
    weights = [max(1, len(t.strip())) for t in tokens]
    total = sum(weights) or 1
    spans: list[Words] = []
    at = 0.0
    for token, weight in zip(tokens, weights, strict=True):
        until = at + audio_ms * weight / total
        spans.append(Words(token, at, until))
        at = until
    return tuple(spans)


def _chunk(text: str, language: str, output_format: str, synthesizer: Synthesizer) -> Chunk:
    encoded = _audio(synthesizer, text, language, output_format)
    ms = duration_ms(len(encoded), output_format)
    return Chunk(text, encoded, ms, spread_words(text, ms))


AUDIO_CACHE_SIZE: Final = 4096
_cache: OrderedDict[Hashable, object] = OrderedDict()
_cache_lock = threading.Lock()  # speech is made in worker threads


def _cached(key: Hashable, make: Callable[[], _T]) -> _T:
    """Greetings and stock phrases repeat across calls; their audio is made once (LRU)."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]  # type: ignore[return-value]
    made = make()
    with _cache_lock:
        _cache[key] = made
        if len(_cache) > AUDIO_CACHE_SIZE:
            _cache.popitem(last=False)
    return made


def _audio(synthesizer: Synthesizer, text: str, language: str, output_format: str) -> bytes:
    if not isinstance(synthesizer, Hashable):
        return from_pcm24k(synthesizer.synthesize(text, language), output_format)
    return _cached(
        (synthesizer, text, language, output_format),
        lambda: from_pcm24k(synthesizer.synthesize(text, language), output_format),
    )
