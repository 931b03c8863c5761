"""The gateway's own links of the interception chain: validation, policy, recording, tools.

They are registered on the chain exactly as a user's business hooks are (``install_builtin_hooks``),
so the order a message sees is visible in one place: ``InterceptionChain.names()``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from voxgate.chain import Hook, HookResult, InterceptionChain, Message, Reply
from voxgate.protocol.realtime import (
    JSON,
    SERVER_EVENT_TYPES,
    ProtocolError,
    error_event,
    validate_client_event,
    validate_server_event,
)

if TYPE_CHECKING:
    from voxgate.transports.bridge import GatewaySession

log = logging.getLogger("voxgate.hooks")

CUSTOM_CLIENT_TYPES = ("get_token", "function_call")

TokenMinter = Callable[["GatewaySession"], Awaitable[JSON]]
ClientToolCaller = Callable[["GatewaySession", str, dict[str, Any]], Awaitable[JSON]]


def install_builtin_hooks(
    chain: InterceptionChain,
    *,
    mint_token: TokenMinter,
    call_client_tool: ClientToolCaller,
    record: Hook | None = None,
) -> None:
    """``record`` is the recorder's hook (``voxgate.recording.Recorder.hook``); without one nothing is
    recorded."""

    async def custom_messages(message: Message) -> HookResult:
        """The seed's messages beside the Realtime protocol: answered here, never forwarded."""
        session: GatewaySession = message.session
        data = message.data
        if not session.custom_events:
            return message  # the drop-in door speaks only Realtime; validation rejects these
        if data["type"] == "get_token":
            token = await mint_token(session)
            return Reply([{"type": "token", "value": token["value"], "expires_at": token["expires_at"]}])
        name = data.get("function_name")
        arguments = data.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return Reply(
                [
                    ProtocolError(
                        "invalid_value",
                        "function_call needs a string 'function_name' and an object 'arguments'.",
                        param="function_name" if not isinstance(name, str) else "arguments",
                        event_id=data.get("event_id"),
                    ).to_event()
                ]
            )
        result = await call_client_tool(session, name, arguments)
        return Reply([{"type": "function_call_result", "function_name": name, "result": result}])

    def validate_client(message: Message) -> HookResult:
        try:
            validate_client_event(message.data)
        except ProtocolError as exc:
            message.session.stats.errors_sent += 1
            return Reply([exc.to_event()])
        return message

    def validate_server(message: Message) -> HookResult:
        # Newer upstreams may add event types this SDK version does not know: forwarded, but logged.
        if message.data["type"] not in SERVER_EVENT_TYPES:
            log.debug("upstream event type %s is not in the SDK union; forwarded as-is", message.data["type"])
            return message
        try:
            validate_server_event(message.data)
        except ValidationError as exc:
            log.warning("upstream %s failed validation: %s", message.data["type"], exc.errors()[0]["msg"])
        return message

    async def session_policy(message: Message) -> HookResult:
        """A client's session.update may not replace what the agent profile fixes."""
        session: GatewaySession = message.session
        requested = message.data.get("session") or {}
        refused = []
        if "instructions" in requested and not session.profile.allow_client_instructions:
            refused.append("instructions")
        if "tools" in requested and not session.profile.allow_client_tools:
            refused.append("tools")
        if "model" in requested:
            refused.append("model")
        if not refused:
            return message
        allowed = {k: v for k, v in requested.items() if k not in refused}
        notice = error_event(
            "parameter_not_allowed",
            f"The '{session.profile.name}' agent fixes {', '.join(refused)}; the rest was applied.",
            param=f"session.{refused[0]}",
            event_id=message.data.get("event_id"),
        )
        await session.send_to_client(notice)
        return message.replace({**message.data, "session": allowed})

    def track_conversation(message: Message) -> HookResult:
        session: GatewaySession = message.session
        session.execute(session.conversation.on_server_event(message.data))
        return message

    chain.register(custom_messages, stage="validate", direction="client", types=CUSTOM_CLIENT_TYPES)
    chain.register(validate_client, stage="validate", direction="client")
    chain.register(validate_server, stage="validate", direction="upstream")
    chain.register(session_policy, stage="validate", direction="client", types=["session.update"])
    if record is not None:
        chain.register(record, stage="record", name="record")
    chain.register(track_conversation, stage="tools", direction="upstream")
