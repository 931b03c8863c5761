"""The phone line's running state: signatures, call tokens, sessions opened ahead of their stream.

One ``PhoneLine`` per app (``app.state.phone_line``), built in the lifespan around the ``Gateway``.
The voice webhook opens the upstream session while Twilio is still setting up the Media Stream
(``prepare``), so the greeting can start the moment the stream does; the stream door takes it
(``claim``). A prepared session whose stream never comes is closed after
``VOXGATE_STREAM_WAIT_SECONDS`` (sessions are billed while open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from voxgate.agents.profiles import AgentProfile, get_profile
from voxgate.gateway import ClientIdInUse, Gateway
from voxgate.protocol import calltoken
from voxgate.protocol.audio import AudioFormat
from voxgate.protocol.calls import CallRegistry
from voxgate.protocol.phone import PhoneConfig
from voxgate.transports.phone_bridge import PhoneBridge
from voxgate.transports.twilio_auth import TwilioSigner, public_base
from voxgate.transports.twilio_rest import TwilioRest

log = logging.getLogger("voxgate.phone")

TOKEN_TTL_S = 120.0
"""A token only has to survive Twilio's hop from the TwiML to the stream's ``start`` message."""


class CallAlreadyLive(Exception):
    """The call sid already has a session with a stream attached."""


@dataclass(slots=True)
class _Prepared:
    bridge: PhoneBridge
    expiry: asyncio.Task[None]


class PhoneLine:
    def __init__(self, gateway: Gateway, *, rest: TwilioRest | None = None) -> None:
        self.gateway = gateway
        self.settings = gateway.settings
        token = self.settings.twilio_auth_token
        self.signer = TwilioSigner(token.get_secret_value() if token else None)
        self.rest = rest
        self.guard = calltoken.ReplayGuard()
        # Without a Twilio auth token no webhook verifies, so a per-process key is as good as any.
        self._token_key = self.settings.call_token_key or secrets.token_bytes(32)
        self._prepared: dict[str, _Prepared] = {}

    @property
    def calls(self) -> CallRegistry:
        return self.gateway.calls

    def base_url(self, seen_base: str) -> str:
        return public_base(self.settings.public_url, seen_base)

    def profile(self, name: str | None) -> AgentProfile | None:
        return get_profile(name or self.settings.phone_agent)

    def epoch(self) -> float:
        return self.gateway.wall_clock().timestamp()

    # -- call tokens ------------------------------------------------------------------------------
    def mint_token(self, call_sid: str, business: str) -> str:
        return calltoken.mint(self._token_key, call_sid, business, self.epoch(), TOKEN_TTL_S)

    def verify_token(self, token: str, call_sid: str) -> calltoken.Claims:
        """The claims of an unused, unexpired token minted for ``call_sid``; else CallTokenError."""
        return calltoken.verify_once(self._token_key, token, self.epoch(), self.guard, call_sid)

    # -- sessions ---------------------------------------------------------------------------------
    def phone_config(self, profile: AgentProfile) -> PhoneConfig:
        fmt: AudioFormat = "audio/pcmu" if self.settings.phone_audio == "pcmu" else "audio/pcm"
        detection = profile.turn_detection or {}
        return PhoneConfig(
            input_format=fmt,
            output_format=fmt,
            outbound_message_ms=self.settings.phone_media_ms,
            interrupt_response=bool(detection.get("interrupt_response", True)),
        )

    async def open_bridge(
        self, call_sid: str, profile: AgentProfile, business: str, *, business_id: int | None = None
    ) -> PhoneBridge:
        """A bridge with its upstream session open and configured; raises UpstreamUnavailable.

        ``business_id``: the business the call serves (its salon tools act on it).
        """
        config = self.phone_config(profile)
        bridge = PhoneBridge(self, call_sid, business, config)
        try:
            session = self.gateway.new_session(
                client_id=f"call_{call_sid}",
                channel="phone",
                profile=profile,
                client=bridge,
                custom_events=False,
                audio_format=config.output_format,
                business_id=business_id,
            )
        except ClientIdInUse:
            raise CallAlreadyLive(call_sid) from None
        bridge.session = session
        try:
            await session.open()
        except BaseException:
            self.gateway.end_session(session)
            await session.close(1011, "upstream unavailable")
            raise
        return bridge

    async def prepare(
        self, call_sid: str, profile: AgentProfile, business: str, *, business_id: int | None = None
    ) -> None:
        """Open the call's session now and keep it for its stream; a repeated webhook reuses it."""
        if call_sid in self._prepared:
            return
        bridge = await self.open_bridge(call_sid, profile, business, business_id=business_id)
        expiry = asyncio.get_running_loop().create_task(self._expire(call_sid))
        self._prepared[call_sid] = _Prepared(bridge, expiry)

    def claim(self, call_sid: str) -> PhoneBridge | None:
        prepared = self._prepared.pop(call_sid, None)
        if prepared is None:
            return None
        prepared.expiry.cancel()
        return prepared.bridge

    async def _expire(self, call_sid: str) -> None:
        await asyncio.sleep(self.settings.stream_wait_seconds)
        prepared = self._prepared.pop(call_sid, None)
        if prepared is None:
            return
        log.warning(
            "call %s: no Media Stream within %gs; closing its session",
            call_sid,
            self.settings.stream_wait_seconds,
        )
        await prepared.bridge.abandon("stream_never_connected")

    async def aclose(self) -> None:
        for call_sid in list(self._prepared):
            prepared = self._prepared.pop(call_sid)
            prepared.expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prepared.expiry
            await prepared.bridge.abandon("gateway_shutdown")
        if self.rest is not None:
            await self.rest.aclose()

    @property
    def prepared_count(self) -> int:
        return len(self._prepared)
