"""Cost estimates of Realtime token usage from a price table (USD per 1M tokens). Pure.

The built-in table holds OpenAI's published list prices; ``VOXGATE_PRICES`` (JSON) adds models or
overrides entries, e.g. ``{"gpt-realtime": {"audio_in": 32, "audio_out": 64}}``. A model is priced by
the longest table key it starts with (``gpt-realtime-2025-08-28`` uses ``gpt-realtime``); a model the
table does not know is priced as ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

PER_TOKENS: Final = 1_000_000


class TokenPrices(BaseModel):
    """USD per 1M tokens. Cached input is billed at the cached price instead of the input price."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text_in: float
    text_out: float
    audio_in: float
    audio_out: float
    cached_text_in: float
    cached_audio_in: float


DEFAULT_PRICES: Final[dict[str, TokenPrices]] = {
    "gpt-realtime": TokenPrices(
        text_in=4.0, text_out=16.0, audio_in=32.0, audio_out=64.0, cached_text_in=0.4, cached_audio_in=0.4
    ),
    "gpt-realtime-mini": TokenPrices(
        text_in=0.6, text_out=2.4, audio_in=10.0, audio_out=20.0, cached_text_in=0.06, cached_audio_in=0.3
    ),
    "gpt-4o-realtime-preview": TokenPrices(
        text_in=5.0, text_out=20.0, audio_in=40.0, audio_out=80.0, cached_text_in=2.5, cached_audio_in=2.5
    ),
    "gpt-4o-mini-realtime-preview": TokenPrices(
        text_in=0.6, text_out=2.4, audio_in=10.0, audio_out=20.0, cached_text_in=0.3, cached_audio_in=0.3
    ),
}
DEFAULT_KEY: Final = "default"


class PriceTable:
    def __init__(self, overrides: Mapping[str, TokenPrices | Mapping[str, float]] | None = None) -> None:
        table = dict(DEFAULT_PRICES)
        for model, prices in (overrides or {}).items():
            if isinstance(prices, TokenPrices):
                table[model] = prices
            else:  # a partial entry changes only the prices it names
                base = table.get(model, table.get(DEFAULT_KEY, DEFAULT_PRICES["gpt-realtime"]))
                table[model] = TokenPrices.model_validate({**base.model_dump(), **prices})
        table.setdefault(DEFAULT_KEY, DEFAULT_PRICES["gpt-realtime"])
        self._table = table
        # Longest key first: "gpt-realtime-mini" must win over "gpt-realtime".
        self._keys = sorted(table, key=len, reverse=True)
        self._cache: dict[str, TokenPrices] = {}

    def prices_for(self, model: str | None) -> TokenPrices:
        name = model or DEFAULT_KEY
        found = self._cache.get(name)
        if found is None:
            key = next((k for k in self._keys if name.startswith(k)), DEFAULT_KEY)
            found = self._cache[name] = self._table[key]
        return found

    def cost(self, model: str | None, usage: Mapping[str, Any]) -> float:
        """The USD cost of one ``response.done`` ``usage`` object."""
        return usage_cost(self.prices_for(model), usage)


def usage_cost(prices: TokenPrices, usage: Mapping[str, Any]) -> float:
    inp: Mapping[str, Any] = usage.get("input_token_details") or {}
    out: Mapping[str, Any] = usage.get("output_token_details") or {}
    text_in = _int(inp.get("text_tokens"))
    audio_in = _int(inp.get("audio_tokens"))
    cached = _int(inp.get("cached_tokens"))
    details: Mapping[str, Any] = inp.get("cached_tokens_details") or {}
    if details:
        cached_text, cached_audio = _int(details.get("text_tokens")), _int(details.get("audio_tokens"))
    else:
        # No split reported: cached tokens are a prefix of the context, apportioned like the input.
        total_in = text_in + audio_in
        cached_text = round(cached * text_in / total_in) if total_in else cached
        cached_audio = cached - cached_text
    cached_text, cached_audio = min(cached_text, text_in), min(cached_audio, audio_in)
    text_out = _int(out.get("text_tokens"))
    audio_out = _int(out.get("audio_tokens"))
    if not inp and not out:  # only totals reported: price them as text
        text_in, text_out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
    dollars = (
        (text_in - cached_text) * prices.text_in
        + cached_text * prices.cached_text_in
        + (audio_in - cached_audio) * prices.audio_in
        + cached_audio * prices.cached_audio_in
        + text_out * prices.text_out
        + audio_out * prices.audio_out
    )
    return round(dollars / PER_TOKENS, 6)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0
