"""Find a menu item or a service by the name a caller (or a model) gave it.

"mojito", "Mojito", "tuns barbati", "Tuns bărbați" and "mojitos" must all find what the caller
meant, and "tuns" must not silently pick one of two haircuts. Matching is on folded text (no case,
no diacritics, in both the comma-below and cedilla spellings of ș and ț):

1. names equal to the query win;
2. else names where every word of the query starts (or is the start of) a word of the name, like
   "virgin" for "Virgin Mojito" or "mojitos" for "Mojito".

The caller decides what several matches mean (usually: ask which one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeVar

T = TypeVar("T")

_MIN_PREFIX: Final = 3
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without diacritics: ``"Tuns Bărbați"`` → ``"tuns barbati"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_WORD.findall(plain.casefold()))


def _word_matches(said: str, word: str) -> bool:
    if said == word:
        return True
    shorter = min(len(said), len(word))
    return shorter >= _MIN_PREFIX and (word.startswith(said) or said.startswith(word))


def match_names(query: str, candidates: Iterable[T], name: Callable[[T], str]) -> Sequence[T]:
    """The candidates ``query`` names: the exact matches if any, else the word-prefix matches."""
    wanted = fold(query)
    if not wanted:
        return []
    pool = list(candidates)
    exact = [c for c in pool if fold(name(c)) == wanted]
    if exact:
        return exact
    said = wanted.split()
    return [c for c in pool if all(any(_word_matches(s, w) for w in fold(name(c)).split()) for s in said)]
