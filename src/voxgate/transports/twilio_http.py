"""Twilio's webhooks: the voice webhook (TwiML), call and stream status callbacks, "what next".

Every request must carry a valid ``X-Twilio-Signature`` over the public URL and the form
(protocol-reference 17); anything else is answered 403 before any work is done.

- ``POST /api/twilio/voice[?agent=NAME]``: a call arrives (or an outbound call is answered). Opens the
  upstream session at once, then answers ``<Connect action=after><Stream url=wss://PUBLIC/twilio/stream>``
  with the business and a short-lived call token as ``<Parameter>``s. Backend down or the business
  over ``VOXGATE_MAX_CALLS``: a spoken apology (then ``<Dial>`` ``VOXGATE_FALLBACK_NUMBER`` if set).
- ``POST /api/twilio/after``: the ``<Connect>`` action, fetched when the stream ends while the call
  is still up: hang up after a normal end, transfer when the agent asked to, apologise after a failure.
- ``POST /api/twilio/status``: call status callbacks; idempotent, and a status never moves backwards.
- ``POST /api/twilio/stream-status``: stream status callbacks, kept in the call's history.
"""

from __future__ import annotations

import logging
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import FormData

from voxgate.business import KIND_FOR_AGENT, BusinessInfo, resolve_business
from voxgate.protocol.calls import FAILED_ENDINGS, FINAL_STATUSES, EndReason
from voxgate.protocol.twiml import apology_twiml, hangup_twiml, line, spoken_twiml, stream_twiml
from voxgate.store.models import BusinessKind
from voxgate.transports.phone_line import CallAlreadyLive, PhoneLine
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, websocket_url, with_query
from voxgate.transports.twilio_ws import STREAM_PATH
from voxgate.transports.upstream import UpstreamUnavailable

log = logging.getLogger("voxgate.phone")

router = APIRouter()

VOICE_PATH: Final = "/api/twilio/voice"
AFTER_PATH: Final = "/api/twilio/after"
STATUS_PATH: Final = "/api/twilio/status"
STREAM_STATUS_PATH: Final = "/api/twilio/stream-status"
_UNANSWERED: Final = frozenset({"busy", "no-answer", "failed", "canceled"})


def get_line(request: Request) -> PhoneLine:
    phone_line: PhoneLine = request.app.state.phone_line
    return phone_line


LineDep = Annotated[PhoneLine, Depends(get_line)]


def public_base(request: Request, phone_line: PhoneLine) -> str:
    return phone_line.base_url(str(request.base_url))


async def signed_form(request: Request, phone_line: LineDep) -> FormData:
    """The request's form, once its Twilio signature has been checked against the public URL."""
    form = await request.form()
    url = with_query(public_base(request, phone_line) + request.url.path, request.url.query)
    if not phone_line.signer.valid(url, form, request.headers.get(SIGNATURE_HEADER)):
        client = request.client.host if request.client else "?"
        log.warning("refused %s from %s: missing or invalid X-Twilio-Signature", request.url.path, client)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return form


SignedForm = Annotated[FormData, Depends(signed_form)]


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def _call_sid(form: FormData) -> str:
    sid = _field(form, "CallSid")
    if sid is None:
        raise HTTPException(status_code=400, detail="CallSid is required")
    return sid


def _number(form: FormData, name: str) -> float | None:
    value = _field(form, name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def twiml(document: str) -> Response:
    return Response(document, media_type="text/xml")


@router.post(VOICE_PATH)
async def voice(request: Request, form: SignedForm, phone_line: LineDep) -> Response:
    """A call for the agent: TwiML connecting it to the Media Stream, or an apology."""
    call_sid = _call_sid(form)
    calls = phone_line.calls
    settings = phone_line.settings
    agent = request.query_params.get("agent")
    to = _field(form, "To")
    dialled = await _business_for(phone_line, call_sid, phone=to) if to else None
    profile = phone_line.profile(agent or (dialled.agent if dialled else None))
    if profile is None:
        log.warning("call %s: the voice URL names an unknown agent", call_sid)
        return twiml(apology_twiml("ro", "unavailable", fallback_number=settings.fallback_number))
    served = dialled if dialled is not None and dialled.agent == profile.name else None
    if served is None:  # no business has that number: the phone agent's default business
        kind = KIND_FOR_AGENT.get(profile.name)
        served = await _business_for(phone_line, call_sid, kind=kind) if kind else None
    business = profile.name
    now = phone_line.gateway.wall_clock()
    calls.open(
        call_sid,
        at=now,
        business=business,
        from_number=_field(form, "From"),
        to_number=_field(form, "To"),
        direction=_field(form, "Direction"),
        account_sid=_field(form, "AccountSid"),
    )
    calls.report_status(call_sid, _field(form, "CallStatus") or "ringing", at=now, source="voice")
    fallback = settings.fallback_number
    if calls.active_count(business, excluding=call_sid) >= settings.max_calls:
        log.warning("call %s: %s is at its limit of %d calls", call_sid, business, settings.max_calls)
        calls.finish(call_sid, at=now, end_reason="rejected_busy")
        return twiml(apology_twiml(profile.language, "busy", fallback_number=fallback))
    try:
        await phone_line.prepare(call_sid, profile, business, business_id=served.id if served else None)
    except UpstreamUnavailable as exc:
        log.warning("call %s: the AI backend is unavailable: %s", call_sid, exc)
        calls.finish(call_sid, at=phone_line.gateway.wall_clock(), end_reason="rejected_unavailable")
        return twiml(apology_twiml(profile.language, "unavailable", fallback_number=fallback))
    except CallAlreadyLive:
        log.warning(
            "call %s: a voice webhook for a call whose stream is live; hanging up the new leg", call_sid
        )
        return twiml(hangup_twiml())
    base = public_base(request, phone_line)
    document = stream_twiml(
        websocket_url(base) + STREAM_PATH,
        {
            "token": phone_line.mint_token(call_sid, business),
            "business": served.slug if served else business,
        },
        action_url=base + AFTER_PATH,
        status_callback=base + STREAM_STATUS_PATH,
    )
    return twiml(document)


async def _business_for(
    phone_line: PhoneLine, call_sid: str, *, phone: str | None = None, kind: BusinessKind | None = None
) -> BusinessInfo | None:
    """The business with that number (the call's ``To``), or the first of that kind; else ``None``.

    A database that does not answer does not keep the call from the agent: it is served without one.
    """
    try:
        return await resolve_business(phone_line.gateway.db, phone=phone, kind=kind)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("call %s: could not look its business up: %s", call_sid, exc)
        return None


@router.post(AFTER_PATH)
async def after_stream(form: SignedForm, phone_line: LineDep) -> Response:
    """What the call does once its stream has ended and the caller is still there."""
    record = phone_line.calls.get(_call_sid(form))
    profile = phone_line.profile(record.business if record else None)
    language = profile.language if profile else "ro"
    if record is not None and record.end_reason == "transferred" and record.transfer_to:
        return twiml(spoken_twiml(line(language, "transfer"), language, dial=record.transfer_to))
    if record is None or record.end_reason is None or record.end_reason in FAILED_ENDINGS:
        # Nothing says the call ended on purpose: the caller hears why it stops.
        fallback = phone_line.settings.fallback_number
        return twiml(apology_twiml(language, "failure", fallback_number=fallback))
    return twiml(hangup_twiml())


@router.post(STATUS_PATH, status_code=204)
async def call_status(form: SignedForm, phone_line: LineDep) -> Response:
    """A call status callback: recorded once however often it is delivered, in whatever order."""
    call_sid = _call_sid(form)
    status = _field(form, "CallStatus")
    if status is None:
        raise HTTPException(status_code=400, detail="CallStatus is required")
    calls = phone_line.calls
    now = phone_line.gateway.wall_clock()
    if calls.get(call_sid) is None:
        calls.open(
            call_sid,
            at=now,
            business=phone_line.settings.phone_agent,
            from_number=_field(form, "From"),
            to_number=_field(form, "To"),
            direction=_field(form, "Direction"),
            account_sid=_field(form, "AccountSid"),
        )
    sequence = _number(form, "SequenceNumber")
    calls.report_status(
        call_sid,
        status,
        at=now,
        source="callback",
        sequence=int(sequence) if sequence is not None else None,
        reported_at=_field(form, "Timestamp"),
        duration_s=_number(form, "CallDuration"),
    )
    if status in FINAL_STATUSES:
        # A call that ended before its stream began: no stream will finish its record.
        reason: EndReason = "not_answered" if status in _UNANSWERED else "caller_hung_up"
        prepared = phone_line.claim(call_sid)
        if prepared is not None:
            await prepared.abandon(reason)
        elif f"call_{call_sid}" not in phone_line.gateway.sessions:
            calls.finish(call_sid, at=now, end_reason=reason)
    return Response(status_code=204)


@router.post(STREAM_STATUS_PATH, status_code=204)
async def stream_status(form: SignedForm, phone_line: LineDep) -> Response:
    call_sid = _call_sid(form)
    event = _field(form, "StreamEvent") or "stream-event"
    calls = phone_line.calls
    if calls.get(call_sid) is not None:
        calls.report_status(
            call_sid,
            event,
            at=phone_line.gateway.wall_clock(),
            source="stream",
            reported_at=_field(form, "Timestamp"),
        )
    error = _field(form, "StreamError")
    if error:
        log.warning("call %s: Twilio reports a stream error: %s", call_sid, error)
        record = calls.get(call_sid)
        if record is not None:
            record.stats["stream_error"] = error
    return Response(status_code=204)
