"""Token usage and rate limits: one consistent formula (real token rates are not published).

Text is a token per 4 characters; input audio 10 tokens a second, output audio 20. Every response
re-bills its whole context as input; what the previous default-conversation response already
billed counts as cached.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from voxgate.protocol.realtime import JSON

INPUT_AUDIO_TOKENS_PER_SECOND: Final = 10.0
OUTPUT_AUDIO_TOKENS_PER_SECOND: Final = 20.0
RATE_LIMIT_REQUESTS: Final = 5000
RATE_LIMIT_TOKENS: Final = 400_000


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def audio_tokens(ms: float, per_second: float) -> int:
    return math.ceil(ms / 1000.0 * per_second)


@dataclass(frozen=True, slots=True)
class InputUsage:
    text_tokens: int
    audio_tokens: int
    cached_text_tokens: int = 0
    cached_audio_tokens: int = 0

    @property
    def total(self) -> int:
        return self.text_tokens + self.audio_tokens

    def cached_after(self, previous: InputUsage | None) -> InputUsage:
        """This usage, with what ``previous`` already billed counted as cached."""
        if previous is None:
            return self
        return InputUsage(
            self.text_tokens,
            self.audio_tokens,
            min(previous.text_tokens, self.text_tokens),
            min(previous.audio_tokens, self.audio_tokens),
        )


@dataclass(frozen=True, slots=True)
class ContextPiece:
    """One context item as billing sees it."""

    text: str
    audio_ms: float = 0.0
    assistant: bool = False


def input_usage(pieces: Sequence[ContextPiece], instructions: str, tools: Sequence[JSON]) -> InputUsage:
    chars = len(instructions) + sum(len(str(t)) for t in tools) + sum(len(p.text) for p in pieces)
    audio = sum(
        audio_tokens(
            p.audio_ms, OUTPUT_AUDIO_TOKENS_PER_SECOND if p.assistant else INPUT_AUDIO_TOKENS_PER_SECOND
        )
        for p in pieces
        if p.audio_ms
    )
    return InputUsage(math.ceil(chars / 4), audio)


def output_usage(input: InputUsage, text_out: int, audio_out: int) -> JSON:
    """The ``usage`` object of ``response.done``."""
    output_total = text_out + audio_out
    return {
        "total_tokens": input.total + output_total,
        "input_tokens": input.total,
        "output_tokens": output_total,
        "input_token_details": {
            "text_tokens": input.text_tokens,
            "audio_tokens": input.audio_tokens,
            "image_tokens": 0,
            "cached_tokens": input.cached_text_tokens + input.cached_audio_tokens,
            "cached_tokens_details": {
                "text_tokens": input.cached_text_tokens,
                "audio_tokens": input.cached_audio_tokens,
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }


def transcription_usage(audio_ms: float, transcript: str) -> JSON:
    audio_in = audio_tokens(audio_ms, INPUT_AUDIO_TOKENS_PER_SECOND)
    text_out = text_tokens(transcript)
    return {
        "type": "tokens",
        "input_tokens": audio_in,
        "output_tokens": text_out,
        "total_tokens": audio_in + text_out,
        "input_token_details": {"audio_tokens": audio_in, "text_tokens": 0},
    }


def rate_limits(requests_made: int, tokens_used: int) -> list[JSON]:
    """The ``rate_limits`` of ``rate_limits.updated``."""
    return [
        {
            "name": "requests",
            "limit": RATE_LIMIT_REQUESTS,
            "remaining": max(0, RATE_LIMIT_REQUESTS - requests_made),
            "reset_seconds": 60.0,
        },
        {
            "name": "tokens",
            "limit": RATE_LIMIT_TOKENS,
            "remaining": max(0, RATE_LIMIT_TOKENS - tokens_used),
            "reset_seconds": 60.0,
        },
    ]
