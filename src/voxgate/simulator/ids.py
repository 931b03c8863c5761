"""Ids in the shape the real service uses (``prefix`` + alphanumerics), optionally reproducible."""

from __future__ import annotations

import random
import string
from typing import Final

from voxgate.protocol.realtime import new_id

_ALPHABET: Final = string.ascii_letters + string.digits
ID_LENGTH: Final = 21
CALL_ID_LENGTH: Final = 16


class IdFactory:
    """Makes ids; with a ``seed`` the same sequence of calls gives the same ids (for tests)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed) if seed is not None else None

    def __call__(self, prefix: str, length: int = ID_LENGTH) -> str:
        if self._rng is None:
            return new_id(prefix, length)
        return prefix + "".join(self._rng.choice(_ALPHABET) for _ in range(length))

    def call_id(self) -> str:
        return self("call_", CALL_ID_LENGTH)
