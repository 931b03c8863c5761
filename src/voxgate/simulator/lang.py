"""Small text helpers for the brain: folding, word stems, and telling Romanian from English.

Everything is deterministic and table-driven; nothing here tries to be a language model.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

Language = Literal["en", "ro"]


def word_set(words: str) -> frozenset[str]:
    """The words of a space-separated list, as a set."""
    return frozenset(words.split())


_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)

_RO_LETTERS: Final = frozenset("ăâîșşțţĂÂÎȘŞȚŢ")
_RO_WORDS: Final = word_set(
    "si este sunt vreau doresc pentru buna ziua rog multumesc maine poimaine azi astazi meniu "
    "meniul programare programarea aveti aveți cat cit costa ce cu imi pot puteti doua trei patru "
    "cinci ora orele numele numesc nu da vă va dumneavoastra salut seara dimineata dupa amiaza "
    "saptamana luni marti miercuri joi vineri sambata duminica telefon tuns vopsit coafat bauturi "
    "bautura unde cand cum care ceva mai foarte bine mersi revedere"
)
_EN_WORDS: Final = word_set(
    "the is are i you want would like please what which for and my can could have has menu thanks "
    "thank hello hi book booking appointment tomorrow today today's at when how much price drink "
    "drinks order name phone number yes no there this that with of to be me"
)

# Romanian (and a few English) word beginnings mapped to one English concept, longest prefix first.
_SYNONYMS: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(
        {
            "meniu": "menu",
            "lista": "menu",
            "bautur": "drink",
            "beverage": "drink",
            "programar": "book",
            "programez": "book",
            "programeaz": "book",
            "appointment": "book",
            "reservation": "book",
            "reserve": "book",
            "rezerv": "book",
            "schedule": "book",
            "program": "hour",
            "orar": "hour",
            "deschi": "open",
            "servic": "service",
            "tratament": "service",
            "disponib": "avail",
            "availab": "avail",
            "liber": "avail",
            "free": "avail",
            "comand": "order",
            "pret": "price",
            "cost": "price",
            "tarif": "price",
            "client": "client",
            "customer": "client",
            "telefon": "phone",
            "anul": "cancel",
            "verific": "check",
            "buletin": "ident",
            "identit": "ident",
            "cnp": "ident",
            "varst": "age",
            "goodby": "bye",
            "revedere": "bye",
            "persoan": "pers",
            "uman": "huma",
            "operator": "huma",
            "coleg": "coll",
            "major": "age",
        }.items(),
        key=lambda pair: -len(pair[0]),
    )
)

STOPWORDS: Final = word_set(
    "get list set create make fetch find return returns the a an for and or with of to from by in "
    "on this that these those will all any tool function data info information details current "
    "new given use used using when if it its be is are was only not one optional name id which "
    "each their them they whether about per into as at via you your have has had what can could "
    "please want would like some there here do does did me my our we us him her his she he also "
    "just than then after before always never should must may might other more most such very "
    "well si sau cu pe la de din pentru care este sunt vreau doresc aveti un o ce cum unde imi va "
    "rog nu da mai ca sa se lui lor acest aceasta dupa tell say said says ask asked asks short "
    "sentence something anything someone two done call calls called calling caller"
)
GENERIC_VERBS: Final = word_set(
    "get list check create find make set place update fetch add remove lookup search retrieve show"
)


def fold(text: str) -> str:
    """Lower case without diacritics (``Mâine`` -> ``maine``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Folded word tokens."""
    return _WORD.findall(fold(text))


def stem(word: str) -> str:
    """A crude stem: a shared concept for known synonyms, else the first four letters."""
    folded = fold(word)
    for prefix, concept in _SYNONYMS:
        if folded.startswith(prefix):
            return concept[:4]  # the stem the English word itself has
    return folded[:4]


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text) if len(w) >= 3 and w not in STOPWORDS}


def detect_language(text: str) -> Language | None:
    """``ro`` or ``en`` when the text gives it away, else None."""
    if not text.strip():
        return None
    if any(ch in _RO_LETTERS for ch in text):
        return "ro"
    tokens = words(text)
    ro = sum(1 for w in tokens if w in _RO_WORDS)
    en = sum(1 for w in tokens if w in _EN_WORDS)
    if ro > en:
        return "ro"
    if en > ro:
        return "en"
    return None


def instructions_language(instructions: str) -> Language | None:
    """The language the instructions ask for, or are written in."""
    folded = fold(instructions)
    if re.search(r"\b(romanian|romaneste|limba romana|in romana)\b", folded):
        return "ro"
    return detect_language(instructions)


def humanize(identifier: str) -> str:
    """``customer_name`` -> ``customer name``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", identifier)
    return spaced.replace("_", " ").replace("-", " ").strip().lower()
