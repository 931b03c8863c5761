"""The gateway's WebSocket doors for browsers, apps and the official SDK.

- ``/openai/realtime/{client_id}?agent=NAME``: the seed's door. First message
  ``connection_established``, then the upstream's events; also accepts ``get_token`` and
  ``function_call`` and sends ``voxgate.*`` notices.
- ``/v1/realtime?model=..&agent=..``: the drop-in door. Pure Realtime protocol, so the official SDK
  pointed at ``ws://HOST:PORT/v1`` works unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from voxgate.agents.profiles import AgentProfile, get_profile
from voxgate.auth import authorize
from voxgate.business import BusinessInfo, resolve_business
from voxgate.gateway import ClientIdInUse, Gateway
from voxgate.protocol import dialect
from voxgate.protocol.realtime import JSON, dumps, error_event, new_id
from voxgate.transports.bridge import Channel, GatewaySession
from voxgate.transports.handle_now import finish
from voxgate.transports.upstream import UpstreamUnavailable
from voxgate.transports.ws_server import (
    Backlog,
    Receive,
    frame_receiver,
    read_in_own_task,
    relay_backlog,
    relay_flusher,
    relay_handler_setter,
    relay_sender,
)

log = logging.getLogger("voxgate.client")

router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_INTERNAL = 1011
CLOSE_AUTH = 3000  # what OpenAI uses after invalid_api_key (protocol-reference 2.5)


class StarletteClient:
    """``ClientPort`` over a Starlette WebSocket; sends after the client left are dropped quietly.

    Unchanged upstream frames are forwarded as received; a beta client gets every event translated.
    """

    def __init__(self, websocket: WebSocket, *, beta: bool = False) -> None:
        self.websocket = websocket
        self.beta = beta
        self.gone = False
        self.disconnect_code: int | None = None
        """The close code when the client side ended the socket (1012: the server is restarting)."""
        self._send_now = relay_sender(websocket.scope)
        self._flush = relay_flusher(websocket.scope)

    def flush(self) -> None:
        if self._flush is not None and not self.gone:
            self._flush()

    def deliver_now(self, event: JSON, raw: str | bytes | None) -> Awaitable[None] | None:
        if self.beta:
            return self._deliver_beta(event)
        return self.send_text_now(raw if raw is not None else dumps(event))

    async def deliver(self, event: JSON, raw: str | bytes | None) -> None:
        await finish(self.deliver_now(event, raw))

    async def _deliver_beta(self, event: JSON) -> None:
        for translated in dialect.ga_server_to_beta(event):
            await self.send_text(dumps(translated))

    def send_text_now(self, text: str | bytes) -> Awaitable[None] | None:
        """Write ``text`` now if the socket takes it; else the coroutine that waits for it to."""
        if self.gone:
            return None
        if self._send_now is not None and self._send_now(text if isinstance(text, bytes) else text.encode()):
            return None
        return self._send_text_waiting(text.decode() if isinstance(text, bytes) else text)

    async def send_text(self, text: str | bytes) -> None:
        await finish(self.send_text_now(text))

    async def _send_text_waiting(self, text: str) -> None:
        try:
            await self.websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.gone = True

    async def close(self, code: int, reason: str) -> None:
        if self.gone or self.websocket.application_state != WebSocketState.CONNECTED:
            return
        self.gone = True
        with contextlib.suppress(RuntimeError, OSError):
            await self.websocket.close(code=code, reason=reason[:120])


async def _refuse(
    websocket: WebSocket, code: str, message: str, close_code: int, subprotocol: str | None
) -> None:
    await websocket.accept(subprotocol=subprotocol)
    await websocket.send_text(dumps(error_event(code, message)))
    await websocket.close(code=close_code, reason=f"{code}: {message}"[:120])


def _gateway(websocket: WebSocket) -> Gateway:
    gateway: Gateway = websocket.app.state.gateway
    return gateway


async def _admit(websocket: WebSocket, gateway: Gateway, *, auth_close: int) -> str | bool | None:
    """Check the client key; returns the subprotocol to accept, or False after refusing."""
    decision = authorize(
        keys=gateway.settings.client_keys,
        headers=websocket.headers,
        query=websocket.query_params,
        subprotocols=websocket.scope.get("subprotocols", []),
        client_host=websocket.client.host if websocket.client else None,
    )
    if not decision.ok:
        code = "invalid_api_key" if auth_close == CLOSE_AUTH else "unauthorized"
        log.info("refused a client from %s: %s", websocket.client, decision.reason)
        await _refuse(websocket, code, decision.reason, auth_close, decision.subprotocol)
        return False
    return decision.subprotocol


def _profile(gateway: Gateway, websocket: WebSocket, business: BusinessInfo | None) -> AgentProfile | None:
    """``?agent=``; without it, the agent of the ``?business=``'s kind, else the default agent."""
    name = websocket.query_params.get("agent") or (business.agent if business else None)
    return get_profile(name or gateway.settings.default_agent)


@router.websocket("/openai/realtime/{client_id}")
async def seed_door(websocket: WebSocket, client_id: str) -> None:
    await _serve(websocket, client_id=client_id, channel="web", custom_events=True, auth_close=CLOSE_POLICY)


@router.websocket("/v1/realtime")
async def dropin_door(websocket: WebSocket) -> None:
    client_id = websocket.query_params.get("client_id") or new_id("sdk_", 12)
    await _serve(websocket, client_id=client_id, channel="sdk", custom_events=False, auth_close=CLOSE_AUTH)


async def _serve(
    websocket: WebSocket, *, client_id: str, channel: Channel, custom_events: bool, auth_close: int
) -> None:
    gateway = _gateway(websocket)
    subprotocol = await _admit(websocket, gateway, auth_close=auth_close)
    if subprotocol is False:
        return
    accepted = subprotocol if isinstance(subprotocol, str) else None
    slug = websocket.query_params.get("business")
    business = await resolve_business(gateway.db, slug=slug) if slug else None
    if slug and business is None:
        await _refuse(websocket, "unknown_business", f"No business named '{slug}'.", CLOSE_POLICY, accepted)
        return
    profile = _profile(gateway, websocket, business)
    if profile is None:
        await _refuse(
            websocket,
            "unknown_agent",
            f"No agent named '{websocket.query_params.get('agent')}'.",
            CLOSE_POLICY,
            accepted,
        )
        return
    if business is not None and profile.name != business.agent:
        message = f"'{business.slug}' is served by the agent '{business.agent}', not '{profile.name}'."
        await _refuse(websocket, "agent_business_mismatch", message, CLOSE_POLICY, accepted)
        return
    beta = dialect.wants_beta(websocket.headers, websocket.query_params) or dialect.wants_beta_subprotocol(
        websocket.scope.get("subprotocols", [])
    )
    client = StarletteClient(websocket, beta=beta)
    try:
        session = gateway.new_session(
            client_id=client_id,
            channel=channel,
            profile=profile,
            client=client,
            beta=beta,
            custom_events=custom_events,
            business_id=business.id if business else None,
        )
    except ClientIdInUse:
        await _refuse(
            websocket,
            "client_id_in_use",
            f"Client id '{client_id}' already has an open session; close it or use another id.",
            CLOSE_POLICY,
            accepted,
        )
        return
    await websocket.accept(subprotocol=accepted)
    try:
        await _run(websocket, gateway, session, client)
    finally:
        # Not closed yet: the socket ended first (the client left, or the server is shutting down).
        ended_by_socket = not session.closed
        await session.close(1000, "session closed")
        reason = "gateway_shutdown" if client.disconnect_code == 1012 else "client_closed"
        gateway.end_session(session, reason if ended_by_socket else None)
        log.info(
            "session %s ended: client %s, %d frames in, %d out",
            session.id,
            client_id,
            session.stats.frames_in,
            session.stats.frames_out,
        )


async def _run(
    websocket: WebSocket, gateway: Gateway, session: GatewaySession, client: StarletteClient
) -> None:
    try:
        await session.open()
    except UpstreamUnavailable as exc:
        log.warning("session %s: upstream unavailable: %s", session.id, exc)
        await client.send_text(
            dumps(error_event("upstream_unavailable", str(exc), error_type="server_error"))
        )
        await client.close(CLOSE_INTERNAL, "upstream_unavailable")
        return
    log.info(
        "session %s started: client %s, agent %s, %s dialect, via %s",
        session.id,
        session.client_id,
        session.profile.name,
        "beta" if session.beta else "GA",
        gateway.connector.description,
    )
    await session.send_custom(
        {
            "type": "connection_established",
            "client_id": session.client_id,
            "session_id": session.id,
            "openai_connected": True,
            "agent": session.profile.name,
            "backend": gateway.connector.backend,
            "model": gateway.connector.model,
            "protocol": "beta" if session.beta else "ga",
        }
    )
    session.spawn(session.run_upstream())
    session.spawn(session.run_session_timer())
    set_handler = relay_handler_setter(websocket.scope)
    if set_handler is not None:
        set_handler(lambda frame: _handle_now(session, frame))
    try:
        await read_in_own_task(
            _pump_client_frames(frame_receiver(websocket), relay_backlog(websocket.scope), session, client)
        )
    finally:
        if set_handler is not None:
            set_handler(None)


def _handle_now(session: GatewaySession, frame: str | bytes) -> Awaitable[None] | None:
    """A client frame handled in the socket's callback, while the reader waits (see ``ws_server``)."""
    if session.closed:
        return None  # the reader has stopped: the frame would not have been read
    rest = session.take_client_frame(frame)
    if rest is None:
        session.flush_upstream()  # nothing else is queued: the reader only runs when something is
    return rest


async def _pump_client_frames(
    receive: Receive, backlog: Backlog | None, session: GatewaySession, client: StarletteClient
) -> None:
    while not session.closed:
        try:
            message = await receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if not isinstance(message, dict):
            await message  # what ``_handle_now`` left of a frame: it is finished before the next one
        elif message["type"] == "websocket.disconnect":
            client.disconnect_code = message.get("code")
            return
        else:
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            await session.handle_client_frame(frame)
        if backlog is not None and not backlog():
            session.flush_upstream()
