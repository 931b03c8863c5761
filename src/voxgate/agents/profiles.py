"""Agent profiles: who the assistant is, how it sounds, which tools it has, what a client may change.

A profile becomes the first ``session.update`` of every session; a client's own ``session.update``
is merged under the profile's policy (``allow_client_instructions``, ``allow_client_tools``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voxgate.protocol.realtime import JSON

GREETING_PREFIX = 'Say exactly: "'


@dataclass(frozen=True, slots=True)
class AgentProfile:
    name: str
    title: str
    language: str
    instructions: str
    voice: str
    tools: tuple[str, ...]
    greeting: str
    turn_detection: JSON | None = field(
        default_factory=lambda: {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": True,
            "interrupt_response": True,
        }
    )
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    allow_client_instructions: bool = False
    allow_client_tools: bool = False
    fallback_line: str = ""

    def session_config(self, tool_schemas: list[JSON], *, audio_format: str = "audio/pcm") -> JSON:
        """The GA session the gateway asks for on connect."""
        fmt: JSON = (
            {"type": audio_format, "rate": 24000} if audio_format == "audio/pcm" else {"type": audio_format}
        )
        audio_input: dict[str, Any] = {"format": fmt, "turn_detection": self.turn_detection}
        if self.transcription_model:
            audio_input["transcription"] = {"model": self.transcription_model, "language": self.language}
        return {
            "type": "realtime",
            "instructions": self.instructions,
            "output_modalities": ["audio"],
            "audio": {"input": audio_input, "output": {"format": fmt, "voice": self.voice}},
            "tools": tool_schemas,
            "tool_choice": "auto",
        }

    def greeting_response(self) -> JSON:
        """``response.create`` parameters that make the agent speak its greeting first."""
        return {"instructions": f'{GREETING_PREFIX}{self.greeting}"'}


BARTENDER = AgentProfile(
    name="bartender",
    title="Bartender (English)",
    language="en",
    voice="marin",
    tools=("get_menu", "check_id", "place_order"),
    greeting="Hi, welcome to the Blue Note bar! What can I get you?",
    instructions=(
        "You are the bartender of the Blue Note, a friendly cocktail bar. Speak English, keep answers short "
        "and warm. Use get_menu to answer questions about drinks and prices; never invent items or prices. "
        "Before serving any alcoholic drink, ask for the guest's ID number and verify it with check_id; "
        "serve alcohol only when the check says the guest is an adult. Take orders with place_order and "
        "read back the order number and total."
    ),
    fallback_line="Sorry, something went wrong on my side. Could you say that again?",
)

SALON = AgentProfile(
    name="salon",
    title="Salon booking (Romanian)",
    language="ro",
    voice="coral",
    tools=(
        "get_available_services",
        "check_appointment_availability",
        "find_existing_client",
        "create_voice_appointment",
        "end_call",
        "transfer_to_human",
    ),
    greeting="Bună ziua, ați sunat la salonul Bella. Cu ce vă pot ajuta?",
    instructions=(
        "Ești recepționera salonului de coafură Bella din București. Vorbești doar românește, politicos și "
        "pe scurt. Ajuți clienții să facă programări: afli serviciul dorit cu get_available_services, "
        "verifici disponibilitatea cu check_appointment_availability (data și ora în fusul orar "
        "Europe/Bucharest), cauți clientul după telefon cu find_existing_client și creezi programarea cu "
        "create_voice_appointment doar după ce ai numele, telefonul, serviciul, data și ora. Confirmă la "
        "final serviciul, ziua și ora. Dacă ora dorită e ocupată, propune alternativele primite. "
        "Nu ghici data de azi: trimite ziua și ora cum le-a spus clientul (de exemplu „mâine”, „luni”, "
        "„la 10”, „zece și jumătate”) sau ca YYYY-MM-DD și HH:MM; uneltele le înțeleg pe amândouă. "
        "Când convorbirea s-a încheiat și clientul și-a luat la revedere, închide apelul cu end_call. "
        "Dacă clientul cere să vorbească cu o persoană, folosește transfer_to_human."
    ),
    fallback_line="Îmi pare rău, a apărut o problemă. Puteți repeta, vă rog?",
)

PROFILES: dict[str, AgentProfile] = {p.name: p for p in (BARTENDER, SALON)}


def get_profile(name: str) -> AgentProfile | None:
    return PROFILES.get(name)
