"""The gateway's running state: settings, the upstream connector, the chain, tools, live sessions.

One ``Gateway`` per app, built by the app factory and reachable from routes as
``request.app.state.gateway``. Everything it needs is injected, so tests build the real thing
around the real simulator with no patching.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from voxgate.agents.profiles import AgentProfile
from voxgate.chain import InterceptionChain
from voxgate.hooks import install_builtin_hooks
from voxgate.metrics import GatewayMetrics
from voxgate.protocol.calls import CallRegistry
from voxgate.protocol.conversation import RunTool
from voxgate.protocol.realtime import JSON
from voxgate.recording import Recorder
from voxgate.settings import Settings
from voxgate.store import StoreWriter
from voxgate.tools.registry import ToolContext, ToolRegistry
from voxgate.transports.bridge import Channel, ClientPort, GatewaySession, SessionLimits
from voxgate.transports.upstream import UpstreamConnector

log = logging.getLogger("voxgate.gateway")


class ClientIdInUse(Exception):
    pass


@dataclass
class Gateway:
    settings: Settings
    connector: UpstreamConnector
    registry: ToolRegistry
    chain: InterceptionChain = field(default_factory=InterceptionChain)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sessions: dict[str, GatewaySession] = field(default_factory=dict)
    db: Any = None
    """The async session factory tools and queries use (``voxgate.database``)."""
    writer: StoreWriter | None = None
    """The write-behind writer for conversation records."""
    started_at: float = field(default_factory=time.monotonic)
    calls: CallRegistry = field(default_factory=CallRegistry)
    """Phone calls (Twilio): webhooks and Media Streams update them; ``subscribe`` to persist them."""
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    """Prometheus metrics on a registry of this gateway's own (``GET /metrics``)."""
    recorder: Recorder | None = None
    """Injected, or built from the settings: ``recording`` is the one in use."""
    recording: Recorder = field(init=False)

    def __post_init__(self) -> None:
        self.recording = self.recorder or Recorder.from_settings(
            self.settings,
            submit=self.writer.submit if self.writer is not None else None,
            metrics=self.metrics,
            wall_clock=self.wall_clock,
            model=self.connector.model,
            backend=self.connector.backend,
            calls=self.calls,
        )
        if self.writer is not None:
            self.metrics.watch_store(self.writer.stats)
        self.metrics.known_tools(self.registry.names())
        self.calls.subscribe(self.recording.call_recorder.on_change)
        install_builtin_hooks(
            self.chain,
            mint_token=self._mint_for_session,
            call_client_tool=self._client_tool,
            record=self.recording.hook,
        )

    # -- sessions -------------------------------------------------------------------------------
    def new_session(
        self,
        *,
        client_id: str,
        channel: Channel,
        profile: AgentProfile,
        client: ClientPort,
        beta: bool = False,
        custom_events: bool = True,
        audio_format: str = "audio/pcm",
        business_id: int | None = None,
    ) -> GatewaySession:
        if client_id in self.sessions:
            raise ClientIdInUse(client_id)
        tool_names = [name for name in profile.tools if name in self.registry]
        session = GatewaySession(
            client_id=client_id,
            channel=channel,
            profile=profile,
            client=client,
            connector=self.connector,
            chain=self.chain,
            tools=self,
            server_tools=frozenset(tool_names),
            initial_session=profile.session_config(
                self.registry.schemas(tool_names), audio_format=audio_format
            ),
            beta=beta,
            custom_events=custom_events,
            limits=SessionLimits(
                max_messages_per_second=self.settings.max_messages_per_second,
                max_session_seconds=self.settings.max_session_seconds,
                reconnect_attempts=self.settings.upstream_reconnect_attempts,
                # A phone call's audio is batched by the call itself (PhoneConfig.inbound_batch_ms).
                append_batch_seconds=0.0 if channel == "phone" else self.settings.audio_batch_ms / 1000,
            ),
            clock=self.clock,
            business_id=business_id,
        )
        self.sessions[client_id] = session
        session.observer = self.recording
        self.recording.session_started(session)
        return session

    def end_session(self, session: GatewaySession, reason: str | None = None) -> None:
        """``reason`` says why it ended when the session does not know (e.g. ``client_closed``)."""
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
        self.recording.session_ended(session, reason)

    # -- tools (the ToolRunner of every session) ---------------------------------------------------
    def tool_context(self, session: GatewaySession) -> ToolContext:
        return ToolContext(
            session_id=session.id,
            agent=session.profile.name,
            business_id=session.business_id,
            now=self.wall_clock,
            db=self.db,
            state=session.state,
            language=session.profile.language,
        )

    async def run(self, session: GatewaySession, call: RunTool) -> str:
        """Run a model-requested tool; saying a filler line if it is slow. Returns the output JSON."""
        context = self.tool_context(session)
        allowed = session.conversation.server_tools
        work = asyncio.ensure_future(self.registry.call(call.name, call.arguments, context, allowed=allowed))
        filler = self.registry.filler(call.name, session.profile.language)
        if filler is not None:
            done, _ = await asyncio.wait({work}, timeout=filler.after_s)
            if not done:
                await session.say_out_of_band(filler.text)
        result = await work
        self.recording.tool_call(session, call.call_id, result)
        log.info(
            "session %s: tool %s %s in %.1f ms",
            session.id,
            call.name,
            "ok" if result.ok else "failed",
            result.duration_ms,
        )
        return orjson.dumps(result.output).decode()

    async def _client_tool(self, session: GatewaySession, name: str, arguments: dict[str, Any]) -> JSON:
        result = await self.registry.call_from_client(
            name, orjson.dumps(arguments).decode(), self.tool_context(session)
        )
        self.recording.tool_call(session, None, result)
        output: JSON = result.output
        return output

    # -- tokens -----------------------------------------------------------------------------------
    def token_session(self, profile: AgentProfile) -> JSON:
        tool_names = [name for name in profile.tools if name in self.registry]
        config = profile.session_config(self.registry.schemas(tool_names))
        return {**config, "model": self.connector.model}

    async def mint_token(self, profile: AgentProfile, ttl_seconds: int = 600) -> JSON:
        return await self.connector.mint_client_secret(self.token_session(profile), ttl_seconds)

    async def _mint_for_session(self, session: GatewaySession) -> JSON:
        return await self.mint_token(session.profile)

    def status(self) -> JSON:
        return {
            "backend": self.connector.backend,
            "upstream": self.connector.description,
            "model": self.connector.model,
            "active_sessions": len(self.sessions),
            "sessions": [s.summary() for s in self.sessions.values()],
            "uptime_seconds": round(self.clock() - self.started_at, 1),
            "chain": self.chain.names(),
        }
