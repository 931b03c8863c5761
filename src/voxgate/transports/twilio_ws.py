"""``WS /twilio/stream``: Twilio's bidirectional Media Stream (protocol-reference section 18).

Admission happens before anything reaches the AI:

1. the upgrade's ``X-Twilio-Signature`` must sign the public ``wss://`` URL (else the handshake is
   refused with 403);
2. the first messages must be ``connected`` (optional) then ``start``, within a few seconds;
3. ``start.customParameters.token`` must be a valid, unexpired, unused call token minted for
   ``start.callSid`` by the voice webhook (else close 1008).

Only then is the session the webhook opened taken over (or, when it is gone, a new one opened) and
the call handed to :class:`~voxgate.transports.phone_bridge.PhoneBridge`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from voxgate.protocol.calltoken import CallTokenError
from voxgate.protocol.twilio import Connected, Start, TwilioProtocolError, parse_message
from voxgate.transports.phone_bridge import open_or_fail
from voxgate.transports.phone_line import PhoneLine
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, websocket_url, with_query

log = logging.getLogger("voxgate.phone")

router = APIRouter()

STREAM_PATH: Final = "/twilio/stream"
START_TIMEOUT_S: Final = 10.0
CLOSE_POLICY: Final = 1008
CLOSE_INTERNAL: Final = 1011


def signing_url(line: PhoneLine, websocket: WebSocket) -> str:
    """The URL Twilio signed: the public base in its ``ws(s)://`` form, plus path and query."""
    seen = websocket.url
    base = websocket_url(line.base_url(f"{seen.scheme}://{seen.netloc}"))
    return with_query(base + seen.path, seen.query)


async def _read_start(websocket: WebSocket) -> tuple[Connected | None, Start]:
    connected: Connected | None = None
    while True:
        frame = await websocket.receive_text()
        message = parse_message(frame)
        if isinstance(message, Connected) and connected is None:
            connected = message
            continue
        if isinstance(message, Start):
            return connected, message
        raise TwilioProtocolError(f"expected 'start', got {type(message).__name__.lower()}")


async def _refuse(websocket: WebSocket, reason: str, code: int = CLOSE_POLICY) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await websocket.close(code, reason[:120])


@router.websocket(STREAM_PATH)
async def twilio_stream(websocket: WebSocket) -> None:
    line: PhoneLine = websocket.app.state.phone_line
    peer = websocket.client.host if websocket.client else "?"
    if not line.signer.valid(signing_url(line, websocket), {}, websocket.headers.get(SIGNATURE_HEADER)):
        log.warning("refused a Media Stream from %s: missing or invalid X-Twilio-Signature", peer)
        await websocket.close(CLOSE_POLICY)  # before accept: the handshake is answered with 403
        return
    await websocket.accept()
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            connected, start = await _read_start(websocket)
    except (TimeoutError, TwilioProtocolError, WebSocketDisconnect, KeyError) as exc:
        log.warning("refused a Media Stream from %s: no valid 'start' message (%s)", peer, exc)
        await _refuse(websocket, "expected connected and start")
        return
    token = start.custom_parameters.get("token", "")
    try:
        claims = line.verify_token(token, start.call_sid)
    except CallTokenError as exc:
        log.warning("refused the Media Stream of call %s: %s", start.call_sid, exc)
        await _refuse(websocket, "invalid call token")
        return
    bridge = line.claim(start.call_sid)
    if bridge is None:
        line.calls.open(start.call_sid, at=line.gateway.wall_clock(), business=claims.business)
        bridge = await open_or_fail(line, start.call_sid, claims.business)
    if bridge is None:
        line.calls.finish(start.call_sid, at=line.gateway.wall_clock(), end_reason="upstream_failed")
        await _refuse(websocket, "upstream unavailable", CLOSE_INTERNAL)
        return
    await bridge.run(websocket, connected, start)
