"""Both doors of the phone line refuse what Twilio did not sign, and streams without a fresh call token."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from phone_testkit import AUTH_TOKEN, Phone, PhoneFactory, post_signed, webhook_form
from voxgate.caller.call import new_sid
from voxgate.caller.twiml import parse_twiml
from voxgate.protocol import calltoken
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, TwilioSigner

pytestmark = pytest.mark.timeout(60)


# -- webhooks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/twilio/voice", "/api/twilio/status", "/api/twilio/after"])
async def test_webhooks_without_a_valid_signature_get_403(make_phone: PhoneFactory, path: str) -> None:
    phone = await make_phone()
    url = phone.base + path
    form = webhook_form(new_sid("CA"))
    missing = await post_signed(url, form, token="x" * 20)  # signed with another account's token
    assert missing.status_code == 403
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(url, data=form)
        assert unsigned.status_code == 403
        # A valid signature for other parameters: the form was tampered with.
        signature = TwilioSigner(AUTH_TOKEN).sign(url, form)
        tampered = await http.post(
            url, data={**form, "From": "+40700666666"}, headers={SIGNATURE_HEADER: signature}
        )
        assert tampered.status_code == 403
        # A valid signature over another URL (the query string is part of what Twilio signs).
        other = TwilioSigner(AUTH_TOKEN).sign(url + "?agent=bartender", form)
        moved = await http.post(url, data=form, headers={SIGNATURE_HEADER: other})
        assert moved.status_code == 403
    # Refused before any work: no call record, no upstream session.
    assert len(phone.line.calls) == 0
    assert await phone.simulator_sessions() == 0


async def test_webhooks_are_refused_when_no_auth_token_is_configured(make_phone: PhoneFactory) -> None:
    phone = await make_phone(twilio_auth_token=None)
    response = await post_signed(phone.voice_url, webhook_form(new_sid("CA")))
    assert response.status_code == 403


# -- the Media Stream ------------------------------------------------------------------------------


def stream_url(phone: Phone) -> str:
    return phone.gateway.ws_url + "/twilio/stream"


def start_message(call_sid: str, token: str | None, stream_sid: str = "MZ" + "0" * 32) -> str:
    params = {"token": token, "business": "salon"} if token is not None else {"business": "salon"}
    return orjson.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": "AC" + "1" * 32,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    ).decode()


async def open_stream(phone: Phone, signature_token: str | None = AUTH_TOKEN) -> ClientConnection:
    url = stream_url(phone)
    headers = {SIGNATURE_HEADER: TwilioSigner(signature_token).sign(url)} if signature_token else {}
    return await connect(url, additional_headers=headers)


async def closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    return ws.close_code


async def test_stream_upgrade_needs_the_twilio_signature(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    with pytest.raises(InvalidStatus) as missing:
        await open_stream(phone, signature_token=None)
    assert missing.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as forged:
        await open_stream(phone, signature_token="y" * 24)
    assert forged.value.response.status_code == 403
    # Signed for the http:// form of the URL: Twilio signs the ws(s):// URL it connects to.
    url = stream_url(phone)
    wrong_scheme = TwilioSigner(AUTH_TOKEN).sign("http" + url[2:])
    with pytest.raises(InvalidStatus):
        await connect(url, additional_headers={SIGNATURE_HEADER: wrong_scheme})


async def _webhook(phone: Phone, call_sid: str) -> dict[str, str]:
    response = await post_signed(phone.voice_url, webhook_form(call_sid))
    assert response.status_code == 200
    twiml = parse_twiml(response.text)
    assert twiml.stream is not None
    return twiml.stream.parameters


async def test_stream_without_a_token_or_with_a_forged_one_is_closed_before_the_ai(
    make_phone: PhoneFactory,
) -> None:
    phone = await make_phone()
    call_sid = new_sid("CA")
    forged = calltoken.mint("not-the-gateway-secret-0123456789", call_sid, "salon", phone.clock().timestamp())
    for token in (None, "", "v1.garbage.garbage", forged):
        ws = await open_stream(phone)
        await ws.send(orjson.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}).decode())
        await ws.send(start_message(call_sid, token))
        assert await closed_with(ws) == 1008
    assert phone.app_state.gateway.sessions == {}
    assert await phone.simulator_sessions() == 0


async def test_stream_must_begin_with_start(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    ws = await open_stream(phone)
    await ws.send(orjson.dumps({"event": "media", "streamSid": "MZ1", "media": {"payload": "//8="}}).decode())
    assert await closed_with(ws) == 1008


async def test_a_token_is_good_for_its_own_call_once(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    call_sid = new_sid("CA")
    params = await _webhook(phone, call_sid)
    token = params["token"]
    assert params["business"] == "bella"

    # Minted for another call: refused, and it does not use the token up.
    ws = await open_stream(phone)
    await ws.send(start_message(new_sid("CA"), token))
    assert await closed_with(ws) == 1008

    ws = await open_stream(phone)
    await ws.send(start_message(call_sid, token))
    first = orjson.loads(await asyncio.wait_for(ws.recv(), 10))  # the greeting starts
    assert first["event"] == "media"
    await ws.close()

    # Replayed: the same token a second time.
    ws = await open_stream(phone)
    await ws.send(start_message(call_sid, token))
    assert await closed_with(ws) == 1008


async def test_an_expired_token_is_refused(make_phone: PhoneFactory) -> None:
    phone = await make_phone()
    call_sid = new_sid("CA")
    token = (await _webhook(phone, call_sid))["token"]
    phone.clock.offset = timedelta(minutes=5)
    ws = await open_stream(phone)
    await ws.send(start_message(call_sid, token))
    assert await closed_with(ws) == 1008
    record = phone.record(call_sid)
    assert record.started_at is None
