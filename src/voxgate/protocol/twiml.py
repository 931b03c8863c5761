"""The TwiML documents the phone line answers with, built with the ``twilio`` library. Pure.

* :func:`stream_twiml`: ``<Connect action=..><Stream url=..>`` with ``<Parameter>``s (section 16);
  when the stream ends Twilio fetches ``action`` to learn what comes next.
* :func:`spoken_twiml`: a ``<Say>`` (an apology, a transfer notice), then ``<Dial>`` a number or hang up.
* :func:`hangup_twiml`: nothing more to say.

The lines the caller hears are per language; the salon line is Romanian.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from twilio.twiml.voice_response import Connect, VoiceResponse

Line = Literal["unavailable", "busy", "failure", "transfer", "fallback"]

LINES: Final[dict[str, dict[Line, str]]] = {
    "ro": {
        "unavailable": "Ne pare rău, asistentul nostru nu este disponibil în acest moment. "
        "Vă rugăm să sunați din nou mai târziu.",
        "busy": "Ne pare rău, toate liniile sunt ocupate în acest moment. "
        "Vă rugăm să reveniți în câteva minute.",
        "failure": "Ne pare rău, a apărut o problemă tehnică și convorbirea s-a întrerupt. "
        "Vă rugăm să sunați din nou.",
        "transfer": "Vă transfer acum la un coleg. Vă rog să rămâneți pe linie.",
        "fallback": "Vă transferăm la un coleg.",
    },
    "en": {
        "unavailable": "Sorry, our assistant is not available right now. Please call again later.",
        "busy": "Sorry, all our lines are busy right now. Please call back in a few minutes.",
        "failure": "Sorry, a technical problem interrupted the call. Please call again.",
        "transfer": "I am transferring you to a colleague now. Please stay on the line.",
        "fallback": "Let me put you through to a colleague.",
    },
}

# Twilio's <Say> needs a voice that speaks the language; Amazon Polly's Carmen speaks Romanian.
SAY_VOICES: Final[dict[str, tuple[str, str]]] = {
    "ro": ("Polly.Carmen", "ro-RO"),
    "en": ("Polly.Joanna", "en-US"),
}


def line(language: str, which: Line) -> str:
    return LINES.get(language, LINES["en"])[which]


def stream_twiml(
    stream_url: str,
    parameters: Mapping[str, str],
    *,
    action_url: str,
    status_callback: str | None = None,
) -> str:
    """Connect the call to a bidirectional Media Stream; ``action_url`` says what follows it."""
    response = VoiceResponse()
    connect = Connect(action=action_url, method="POST")
    stream = connect.stream(url=stream_url, status_callback=status_callback)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def spoken_twiml(text: str, language: str, *, dial: str | None = None) -> str:
    """Say ``text``, then dial ``dial`` when given, else hang up."""
    voice, lang = SAY_VOICES.get(language, SAY_VOICES["en"])
    response = VoiceResponse()
    response.say(text, voice=voice, language=lang)
    if dial:
        response.dial(dial)
    else:
        response.hangup()
    return str(response)


def apology_twiml(language: str, which: Line, *, fallback_number: str | None = None) -> str:
    """The apology for ``which`` (``unavailable``, ``busy``, ``failure``), then the fallback number if any."""
    text = line(language, which)
    if fallback_number:
        text += " " + line(language, "fallback")
    return spoken_twiml(text, language, dial=fallback_number)


def hangup_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
