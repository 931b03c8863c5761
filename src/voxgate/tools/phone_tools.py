"""Tools of a phone call: hang up politely, hand the caller to a human.

Tools never touch sockets: the phone bridge puts a :class:`PhoneControl` into the session's state
(``ctx.state["phone"]``) and the tools ask it to act. The call then ends (or moves) once the
agent's next sentence has been heard in full, which the bridge learns from Twilio's marks.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, runtime_checkable

from voxgate.tools.registry import ToolContext, ToolError, ToolRegistry

PHONE_STATE_KEY: Final = "phone"


@runtime_checkable
class PhoneControl(Protocol):
    """What a live phone call lets its tools do (implemented by the transport)."""

    @property
    def can_transfer(self) -> bool: ...

    async def end_call(self, reason: str | None) -> None:
        """Hang up once the agent's next response has been played to the caller."""
        ...

    async def transfer(self, reason: str | None) -> None:
        """Move the call to a human once the agent's next response has been played."""
        ...


def _control(ctx: ToolContext) -> PhoneControl:
    control = ctx.state.get(PHONE_STATE_KEY)
    if not isinstance(control, PhoneControl):
        raise ToolError("This conversation is not a phone call; there is nothing to hang up.", "not_a_call")
    return control


def register(registry: ToolRegistry) -> None:
    @registry.tool(filler={}, timeout=5)
    async def end_call(ctx: ToolContext, reason: str | None = None) -> dict[str, Any]:
        """End the phone call. Use it when the conversation is finished and the caller has said goodbye,
        or asked to hang up. After calling it, say one short goodbye sentence: the line closes once the
        caller has heard it.

        Args:
            reason: Why the call ends, in a few words (for the call record).
        """
        await _control(ctx).end_call(reason)
        return {"ok": True, "next": "Say a short, polite goodbye now; the call ends after it."}

    @registry.tool(filler={}, timeout=5)
    async def transfer_to_human(ctx: ToolContext, reason: str | None = None) -> dict[str, Any]:
        """Transfer the caller to a human colleague. Use it when the caller asks for a person, or for
        something you cannot do. After calling it, tell the caller in one short sentence that you are
        transferring them.

        Args:
            reason: What the caller needs, in a few words, for the colleague.
        """
        control = _control(ctx)
        if not control.can_transfer:
            raise ToolError(
                "No colleague can take calls right now. Apologise, and offer to help or to end the call.",
                "transfer_unavailable",
            )
        await control.transfer(reason)
        return {"ok": True, "next": "Tell the caller you are transferring them now, in one short sentence."}
