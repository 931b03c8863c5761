"""``/api/calls``: the phone call records, and outbound calls that connect to an agent (admin key).

- ``GET /api/calls[?active=true]``: newest first, one summary per call.
- ``GET /api/calls/{call_sid}``: everything recorded about one call (status history, latencies,
  barge-ins, truncations, DTMF digits, transcript, counters).
- ``POST /api/calls`` ``{"to": "+40...", "from": "+1...", "agent": "salon"}``: Twilio places the call
  (REST ``calls.create``); when it is answered Twilio fetches the voice webhook, like any inbound call.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from voxgate.routes import AdminAuth
from voxgate.transports.twilio_http import STATUS_PATH, VOICE_PATH, LineDep
from voxgate.transports.twilio_rest import TwilioRestError

log = logging.getLogger("voxgate.phone")

router = APIRouter()

_E164: Final = re.compile(r"\+[1-9]\d{6,14}")


class OutboundCall(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str = Field(description="The number to call, in E.164 form (+40722123456).")
    from_: str | None = Field(
        default=None, alias="from", description="Caller id; TWILIO_PHONE_NUMBER if omitted."
    )
    agent: str | None = Field(
        default=None, description="The agent who talks; VOXGATE_PHONE_AGENT if omitted."
    )


@router.get("/api/calls", dependencies=[AdminAuth])
async def list_calls(phone_line: LineDep, active: bool = False) -> dict[str, Any]:
    records = [r for r in phone_line.calls if r.active or not active]
    records.reverse()
    return {
        "active": sum(1 for r in records if r.active),
        "calls": [r.summary() for r in records],
    }


@router.get("/api/calls/{call_sid}", dependencies=[AdminAuth])
async def get_call(call_sid: str, phone_line: LineDep) -> dict[str, Any]:
    record = phone_line.calls.get(call_sid)
    if record is None:
        raise HTTPException(status_code=404, detail=f"no call {call_sid}")
    return record.as_json()


@router.post("/api/calls", status_code=201, dependencies=[AdminAuth])
async def place_call(body: OutboundCall, phone_line: LineDep) -> dict[str, Any]:
    settings = phone_line.settings
    rest = phone_line.rest
    if rest is None:
        raise HTTPException(
            status_code=503, detail="outbound calls need TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
        )
    if not settings.public_url:
        raise HTTPException(
            status_code=503,
            detail="outbound calls need VOXGATE_PUBLIC_URL: Twilio must reach the voice webhook",
        )
    caller_id = body.from_ or settings.twilio_phone_number
    if caller_id is None:
        raise HTTPException(
            status_code=422, detail="no 'from' number given and TWILIO_PHONE_NUMBER is not set"
        )
    for name, number in (("to", body.to), ("from", caller_id)):
        if not _E164.fullmatch(number):
            raise HTTPException(status_code=422, detail=f"'{name}' must be an E.164 number like +40722123456")
    profile = phone_line.profile(body.agent)
    if profile is None:
        raise HTTPException(status_code=404, detail=f"no agent named '{body.agent}'")
    base = settings.public_url.rstrip("/")
    try:
        placed = await rest.create_call(
            to=body.to,
            from_=caller_id,
            url=f"{base}{VOICE_PATH}?agent={profile.name}",
            status_callback=base + STATUS_PATH,
        )
    except TwilioRestError as exc:
        log.warning("outbound call to %s failed: %s", body.to, exc)
        raise HTTPException(status_code=502, detail=str(exc)) from None
    now = phone_line.gateway.wall_clock()
    phone_line.calls.open(
        placed.sid,
        at=now,
        business=profile.name,
        from_number=caller_id,
        to_number=body.to,
        direction="outbound-api",
        account_sid=rest.account_sid,
    )
    phone_line.calls.report_status(placed.sid, placed.status, at=now, source="rest")
    log.info("outbound call %s to %s placed for %s", placed.sid, body.to, profile.name)
    return {"call_sid": placed.sid, "status": placed.status, "agent": profile.name, "to": body.to}
