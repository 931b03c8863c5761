"""Helpers for the phone tests: the Twilio REST stand-in, a movable wall clock, signed requests."""

from __future__ import annotations

import asyncio
import base64
import inspect
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voxgate.caller import CallSpec
from voxgate.serving import BackgroundServer
from voxgate.settings import Settings
from voxgate.transports.twilio_auth import SIGNATURE_HEADER, TwilioSigner

AUTH_TOKEN = "phone-tests-auth-token-0123456789"
ACCOUNT_SID = "AC" + "ab" * 16
TRANSFER_NUMBER = "+40213000000"


@dataclass
class RestCall:
    method: str
    path: str
    form: dict[str, str]


@dataclass
class TwilioStandIn:
    """Answers the two Calls endpoints the gateway uses, like api.twilio.com, and remembers each request."""

    server: BackgroundServer | None = None
    requests: list[RestCall] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.http_url

    def app(self) -> Starlette:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()

        async def calls(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != expected:
                return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, 401)
            form = {k: str(v) for k, v in (await request.form()).multi_items()}
            self.requests.append(RestCall(request.method, request.url.path, form))
            account = request.path_params["account"]
            sid = request.path_params.get("sid")
            if sid is None:
                sid = "CA" + secrets.token_hex(16)
                self.created.append(sid)
                body = {"sid": sid, "account_sid": account, "status": "queued", "to": form.get("To")}
                return JSONResponse({**body, "from": form.get("From"), "direction": "outbound-api"}, 201)
            return JSONResponse(
                {"sid": sid, "account_sid": account, "status": form.get("Status", "in-progress")}
            )

        return Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{account}/Calls.json", calls, methods=["POST"]),
                Route("/2010-04-01/Accounts/{account}/Calls/{sid}.json", calls, methods=["POST"]),
            ]
        )


class Clock:
    """A wall clock the test can move (call tokens expire against it)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Phone:
    gateway: BackgroundServer
    simulator: BackgroundServer
    settings: Settings
    clock: Clock

    @property
    def base(self) -> str:
        return self.gateway.http_url

    @property
    def voice_url(self) -> str:
        return self.base + "/api/twilio/voice"

    @property
    def app_state(self) -> Any:
        app: Any = self.gateway.server.config.app
        return app.state

    @property
    def line(self) -> Any:
        return self.app_state.phone_line

    def record(self, call_sid: str) -> Any:
        return self.line.calls.get(call_sid)

    def spec(self, **overrides: Any) -> CallSpec:
        overrides.setdefault("webhook_url", self.voice_url)
        return CallSpec(auth_token=AUTH_TOKEN, **overrides)

    async def simulator_sessions(self) -> int:
        async with httpx.AsyncClient() as http:
            response = await http.get(self.simulator.http_url + "/v1/_simulator/sessions")
        return len(response.json()["sessions"])


PhoneFactory = Callable[..., Awaitable[Phone]]


def signed_post_headers(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {SIGNATURE_HEADER: TwilioSigner(token).sign(url, form)}


def webhook_form(call_sid: str, status: str = "ringing", **extra: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Direction": "inbound",
        "From": "+40722000111",
        "To": "+40311000222",
        **extra,
    }


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``check()`` (a function or a coroutine function) is true."""
    for _ in range(int(timeout / 0.05)):
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still not true after {timeout:g}s: {check}")


async def post_signed(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(url, data=form, headers=signed_post_headers(url, form, token))
