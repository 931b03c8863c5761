"""Reading the TwiML a voice webhook answers with, the way Twilio does (the verbs the phone line uses)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(ValueError):
    """Not a TwiML document."""


@dataclass(frozen=True, slots=True)
class StreamVerb:
    url: str
    parameters: dict[str, str]
    action: str | None = None
    """``<Connect action>``: fetched when the stream ends."""
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class Twiml:
    stream: StreamVerb | None = None
    said: list[str] = field(default_factory=list)
    dialed: list[str] = field(default_factory=list)
    hangup: bool = False
    verbs: list[str] = field(default_factory=list)
    """Every top-level verb in order, e.g. ``["Say", "Dial"]``."""


def parse_twiml(document: str | bytes) -> Twiml:
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        raise TwimlError(f"the webhook did not answer with XML: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(f"TwiML must have a <Response> root, not <{root.tag}>")
    stream: StreamVerb | None = None
    said: list[str] = []
    dialed: list[str] = []
    hangup = False
    verbs: list[str] = []
    for verb in root:
        verbs.append(verb.tag)
        if verb.tag == "Connect" and stream is None:
            element = verb.find("Stream")
            if element is not None and element.get("url"):
                parameters = {
                    p.get("name", ""): p.get("value", "")
                    for p in element.findall("Parameter")
                    if p.get("name")
                }
                stream = StreamVerb(
                    url=element.get("url", ""),
                    parameters=parameters,
                    action=verb.get("action"),
                    status_callback=element.get("statusCallback"),
                )
        elif verb.tag == "Say":
            said.append((verb.text or "").strip())
        elif verb.tag == "Dial":
            number = (verb.text or "").strip() or next(
                ((child.text or "").strip() for child in verb if child.tag == "Number"), ""
            )
            dialed.append(number)
        elif verb.tag == "Hangup":
            hangup = True
    return Twiml(stream, said, dialed, hangup, verbs)
