"""A caller simulator that plays Twilio exactly: ``voxgate call`` and the phone tests drive it.

::

    spec = CallSpec(webhook_url="http://127.0.0.1:8000/api/twilio/voice", auth_token=TOKEN)
    script = Script([Speak(synthesize_speech("Bună ziua", "ro"), "Bună ziua")])
    result = await place_call(spec, script)
"""

from voxgate.caller.call import BargeIn, CallResult, CallSpec, Event, place_call
from voxgate.caller.speech import read_wav, synthesize_speech, write_wav
from voxgate.caller.turns import Press, Script, Speak

__all__ = [
    "BargeIn",
    "CallResult",
    "CallSpec",
    "Event",
    "Press",
    "Script",
    "Speak",
    "place_call",
    "read_wav",
    "synthesize_speech",
    "write_wav",
]
