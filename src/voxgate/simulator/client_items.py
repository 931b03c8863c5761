"""Items the client sends, and the rules the protocol puts on them.

``client_item`` validates a ``conversation.item.create`` item (or an inline ``response.input``
item) and gives its stored form; ``check_truncate``/``apply_truncate`` carry out
``conversation.item.truncate`` (protocol-reference 8.5); ``as_turn`` is how the brain sees an item.
"""

from __future__ import annotations

import base64
import binascii
import copy
import math
import re
from typing import Final

from voxgate.protocol.audio import bytes_for_ms, duration_ms
from voxgate.protocol.realtime import JSON, ProtocolError
from voxgate.simulator.accounting import ContextPiece
from voxgate.simulator.ids import IdFactory
from voxgate.simulator.items import ItemStore, StoredItem, Words
from voxgate.simulator.turns import Turn

ALLOWED_CONTENT: Final[dict[str, tuple[str, ...]]] = {
    "user": ("input_text", "input_audio", "input_image"),
    "system": ("input_text",),
    "assistant": ("output_text",),  # clients cannot create assistant audio
}


def client_item(
    item: JSON, *, ids: IdFactory, store: ItemStore, audio_format: str, param: str = "item"
) -> StoredItem:
    """A client-supplied item in its stored form; raises ``ProtocolError`` naming the bad field.

    Audio content keeps the transcript the client gave (``heard``); without one the engine has the
    audio heard."""
    kind = item["type"]
    public: JSON = {"id": item.get("id") or ids("item_"), "object": "realtime.item", "type": kind}
    public["status"] = "completed"
    public.update({k: copy.deepcopy(v) for k, v in item.items() if k not in public})
    stored = StoredItem(public, audio_format=audio_format)
    if kind == "function_call":
        public.setdefault("call_id", ids.call_id())
    elif kind == "function_call_output":
        if store.find_call(str(public["call_id"])) is None:
            raise ProtocolError(
                "invalid_value",
                f"Tool call ID '{public['call_id']}' not found in conversation.",
                param=f"{param}.call_id",
            )
    elif kind == "message":
        _message_content(stored, param)
    else:
        raise ProtocolError(
            "invalid_value", f"Items of type '{kind}' are not supported here.", param=f"{param}.type"
        )
    return stored


def _message_content(stored: StoredItem, param: str) -> None:
    role = stored.item["role"]
    allowed = ALLOWED_CONTENT[role]
    for index, part in enumerate(stored.item["content"]):
        kind = part.get("type")
        if kind not in allowed:
            raise ProtocolError(
                "invalid_value",
                f"Content of type '{kind}' is not allowed in a {role} message; use {', '.join(allowed)}.",
                param=f"{param}.content[{index}].type",
            )
        if kind != "input_audio":
            continue
        audio = part.pop("audio", None)
        if audio:
            try:
                stored.audio.extend(base64.b64decode(audio, validate=True))
            except (binascii.Error, ValueError):
                raise ProtocolError(
                    "invalid_value", "The audio is not valid base64.", param=f"{param}.content[{index}].audio"
                ) from None
            stored.audio_ms = duration_ms(len(stored.audio), stored.audio_format)
        part.setdefault("transcript", None)
        stored.heard = part["transcript"] or stored.heard


def check_truncate(stored: StoredItem, content_index: int, audio_end_ms: int) -> None:
    item = stored.item
    content = item.get("content") or []
    audio_parts = [i for i, p in enumerate(content) if p.get("type") == "output_audio"]
    if item.get("type") != "message" or item.get("role") != "assistant" or not audio_parts:
        raise ProtocolError(
            "unsupported_content_type", "Only model output audio messages can be truncated.", param="item_id"
        )
    if content_index not in audio_parts:
        raise ProtocolError(
            "invalid_value", "content_index does not point at audio content.", param="content_index"
        )
    if audio_end_ms < 0:
        raise ProtocolError("invalid_value", "audio_end_ms cannot be negative.", param="audio_end_ms")
    if audio_end_ms > math.ceil(stored.audio_ms):
        raise ProtocolError(
            "invalid_value",
            f"Audio content of {stored.audio_ms:.0f}ms is already shorter than {audio_end_ms}ms",
            param="audio_end_ms",
        )


def apply_truncate(stored: StoredItem, content_index: int, audio_end_ms: int) -> None:
    """Cut the audio at ``audio_end_ms``; the transcript keeps only the words heard by then."""
    del stored.audio[bytes_for_ms(audio_end_ms, stored.audio_format) :]
    stored.audio_ms = min(stored.audio_ms, float(audio_end_ms))
    stored.item["content"][content_index]["transcript"] = heard_words(stored.words, audio_end_ms)
    stored.words = [w for w in stored.words if w.start_ms < audio_end_ms]


def heard_words(words: list[Words], audio_end_ms: float) -> str:
    """The part of the transcript spoken before ``audio_end_ms``.

    ``words`` is the item's timeline: one stretch per word (the planner knows where each word's
    audio starts and ends), so a word counts as heard once more than half of it was played. An
    older timeline of several words per stretch is shared out by proportion."""
    heard = ""
    for stretch in words:
        if stretch.end_ms <= audio_end_ms:
            heard += stretch.text
            continue
        if stretch.start_ms < audio_end_ms:
            tokens = list(re.finditer(r"\S+", stretch.text))
            fraction = (audio_end_ms - stretch.start_ms) / max(1e-9, stretch.end_ms - stretch.start_ms)
            count = round(fraction * len(tokens))
            if count:
                heard += stretch.text[: tokens[count - 1].end()]
        break
    return heard.strip()


def as_turn(stored: StoredItem) -> Turn:
    item = stored.item
    kind = item.get("type")
    if kind == "function_call":
        return Turn(
            "tool_call", name=item.get("name"), call_id=item.get("call_id"), arguments=item.get("arguments")
        )
    if kind == "function_call_output":
        return Turn("tool_output", text=str(item.get("output", "")), call_id=item.get("call_id"))
    texts: list[str] = []
    for part in item.get("content") or []:
        if part.get("type") in ("input_text", "output_text"):
            texts.append(str(part.get("text") or ""))
        elif part.get("type") == "input_audio":
            texts.append(str(part.get("transcript") or stored.heard or ""))
        elif part.get("type") == "output_audio":
            texts.append(str(part.get("transcript") or ""))
    role = item.get("role")
    text = " ".join(t for t in texts if t)
    return Turn(role if role in ("user", "assistant", "system") else "user", text=text)


def as_context_piece(stored: StoredItem) -> ContextPiece:
    text = as_turn(stored).text + str(stored.item.get("arguments") or "")
    return ContextPiece(text, stored.audio_ms, stored.item.get("role") == "assistant")


def without_item_references(data: JSON) -> list[JSON] | None:
    """Take ``item_reference`` entries out of ``response.input`` so the event can be validated (the
    SDK's models do not list them); returns the original input to put back, or None."""
    if data.get("type") != "response.create" or not isinstance(data.get("response"), dict):
        return None
    entries = data["response"].get("input")
    if not isinstance(entries, list):
        return None
    references = [isinstance(e, dict) and e.get("type") == "item_reference" for e in entries]
    if not any(references):
        return None
    for index, entry in enumerate(entries):
        if references[index] and not isinstance(entry.get("id"), str):
            raise ProtocolError(
                "missing_required_parameter",
                "Missing required parameter: 'id'.",
                param=f"response.input[{index}].id",
            )
    data["response"]["input"] = [e for e, ref in zip(entries, references, strict=True) if not ref]
    return entries
