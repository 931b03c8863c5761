"""The conversation: an ordered list of items, with the audio the simulator keeps beside them.

Items are stored in their public form (what ``conversation.item.done`` shows: no audio bytes);
audio, the word timeline of assistant audio and what the simulator heard in user audio are kept
next to them for ``retrieve``, ``truncate`` and the brain.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field

from voxgate.protocol.realtime import JSON


@dataclass(slots=True)
class Words:
    """A stretch of assistant audio and the words spoken in it."""

    text: str
    start_ms: float
    end_ms: float


@dataclass(slots=True)
class StoredItem:
    item: JSON
    audio: bytearray = field(default_factory=bytearray)
    audio_format: str = "audio/pcm"
    audio_ms: float = 0.0
    words: list[Words] = field(default_factory=list)
    heard: str | None = None  # what the simulator understood from user audio
    listening: bool = False  # the recogniser is still at work on its audio
    listened: bool = False  # the recogniser has been through its audio (``heard`` stays None: no words)
    response_id: str | None = None

    @property
    def id(self) -> str:
        return str(self.item["id"])

    def with_audio(self) -> JSON:
        """The item as ``conversation.item.retrieved`` shows it: audio included, base64."""
        shown = copy.deepcopy(self.item)
        if self.audio:
            encoded = base64.b64encode(bytes(self.audio)).decode()
            for part in shown.get("content") or []:
                if part.get("type") in ("input_audio", "output_audio"):
                    part["audio"] = encoded
        return shown


class ItemStore:
    """Items in conversation order."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._items: dict[str, StoredItem] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def get(self, item_id: str) -> StoredItem | None:
        return self._items.get(item_id)

    def last_id(self) -> str | None:
        return self._order[-1] if self._order else None

    def all(self) -> list[StoredItem]:
        return [self._items[i] for i in self._order]

    def insert(self, stored: StoredItem, previous_item_id: str | None = None) -> str | None:
        """Add ``stored`` after ``previous_item_id`` (``"root"``: first; None: last).

        Returns the id of the item now before it. The caller checks that ``previous_item_id`` exists.
        """
        if previous_item_id is None:
            previous = self.last_id()
            self._order.append(stored.id)
        elif previous_item_id == "root":
            previous = None
            self._order.insert(0, stored.id)
        else:
            previous = previous_item_id
            self._order.insert(self._order.index(previous_item_id) + 1, stored.id)
        self._items[stored.id] = stored
        return previous

    def previous_of(self, item_id: str) -> str | None:
        index = self._order.index(item_id)
        return self._order[index - 1] if index > 0 else None

    def delete(self, item_id: str) -> None:
        self._order.remove(item_id)
        del self._items[item_id]

    def find_call(self, call_id: str) -> StoredItem | None:
        for stored in self.all():
            if stored.item.get("type") == "function_call" and stored.item.get("call_id") == call_id:
                return stored
        return None
