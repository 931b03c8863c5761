"""``voxgate call``: arguments in, one simulated Twilio call, a printed timeline out."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit, urlunsplit

from voxgate.caller.call import CallSpec, Event, place_call
from voxgate.caller.report import format_result
from voxgate.caller.speech import AudioFileError, read_wav, synthesize_speech, write_wav
from voxgate.caller.turns import Press, Script, Speak, Step
from voxgate.settings import ConfigError

VOICE_PATH = "/api/twilio/voice"


def webhook_url(url: str, agent: str | None) -> str:
    """``URL`` as given, or the voice webhook under it when it names only the server."""
    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/") else VOICE_PATH
    query = parts.query
    if agent:
        query = f"{query}&agent={agent}" if query else f"agent={agent}"
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def build_script(args: argparse.Namespace) -> Script:
    steps: list[Step] = []
    for text in args.say or []:
        steps.append(Speak(synthesize_speech(text, args.lang), text))
    if args.wav:
        try:
            steps.append(Speak(read_wav(args.wav), args.wav))
        except AudioFileError as exc:
            raise ConfigError(str(exc)) from None
    if args.dtmf:
        steps.append(Press(args.dtmf))
    return Script(steps, barge_in_at_ms=args.barge_in_at, hang_up=not args.wait_for_hangup)


async def run(args: argparse.Namespace) -> int:
    token = args.auth_token or os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        raise ConfigError("voxgate call signs like Twilio: pass --auth-token or set TWILIO_AUTH_TOKEN")
    spec = CallSpec(
        webhook_url=webhook_url(args.url, args.agent),
        auth_token=token,
        from_number=args.from_number,
        to_number=args.to_number,
        admin_key=args.admin_key or os.environ.get("VOXGATE_ADMIN_KEY"),
    )
    script = build_script(args)

    def live(event: Event) -> None:
        print(f"  {event.at_ms:8.0f}  {event.what:<9} {event.detail}", file=sys.stderr, flush=True)

    result = await place_call(
        spec, script, record=bool(args.record), max_call_s=args.max_seconds, on_event=live
    )
    print(format_result(result))
    if args.record:
        write_wav(args.record, bytes(result.agent_audio))
        print(f"agent audio written to {args.record}")
    return 0 if result.webhook_status == 200 and not result.protocol_errors else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", required=True, help="the gateway (http://127.0.0.1:8000) or its voice webhook URL"
    )
    parser.add_argument("--say", action="append", help="a sentence to speak (repeat for more turns)")
    parser.add_argument("--lang", choices=["ro", "en"], default="ro", help="language of --say (default ro)")
    parser.add_argument("--wav", help="a 16-bit PCM WAV file to speak")
    parser.add_argument("--dtmf", help="keys to press after speaking, e.g. 1 or 12#")
    parser.add_argument("--record", help="write what the agent said to this WAV file")
    parser.add_argument("--barge-in-at", type=float, help="talk over the greeting after this many ms of it")
    parser.add_argument("--agent", help="ask the voice webhook for this agent (?agent=)")
    parser.add_argument("--auth-token", help="Twilio auth token to sign with (default $TWILIO_AUTH_TOKEN)")
    parser.add_argument("--admin-key", help="to read the call record for the transcript ($VOXGATE_ADMIN_KEY)")
    parser.add_argument("--from", dest="from_number", default="+40722000111")
    parser.add_argument("--to", dest="to_number", default="+40311000222")
    parser.add_argument("--wait-for-hangup", action="store_true", help="let the agent end the call")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="hang up after this long regardless")
