"""Twilio's REST API through the ``twilio`` client: end, redirect (transfer) and place calls.

The client's HTTP layer is injected: :class:`HttpxTwilioClient` runs the ``twilio`` library's async
requests on ``httpx`` and can send them to another base URL (``TWILIO_API_BASE_URL``), which is how
the tests talk to a local stand-in for api.twilio.com.

Exceptions::

    TwilioRestError    the request failed (transport error or an error status from Twilio)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

log = logging.getLogger("voxgate.twilio")


class TwilioRestError(Exception):
    """A Twilio REST request that did not succeed."""


class HttpxTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # the twilio package has no type hints
    """The ``twilio`` library's async HTTP client interface on ``httpx``, with an optional base URL."""

    def __init__(self, base_url: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(logger=log, is_async=True, timeout=timeout)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        self._client = httpx.AsyncClient(timeout=timeout)

    def _rebase(self, uri: str) -> str:
        if self._base is None:
            return uri
        parts = urlsplit(uri)
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, parts.fragment))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        try:
            response = await self._client.request(
                method,
                self._rebase(uri),
                params=params,  # type: ignore[arg-type]
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout or self.timeout,
                follow_redirects=allow_redirects,
            )
        except httpx.HTTPError as exc:
            raise TwilioRestError(f"Twilio REST {method} {uri} failed: {exc}") from None
        return TwilioResponse(response.status_code, response.text, response.headers)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class PlacedCall:
    sid: str
    status: str


class TwilioRest:
    """The calls API of one Twilio account."""

    def __init__(self, account_sid: str, auth_token: str, *, base_url: str | None = None) -> None:
        self.account_sid = account_sid
        self._http = HttpxTwilioClient(base_url)
        self._client = Client(account_sid, auth_token, account_sid=account_sid, http_client=self._http)

    async def hang_up(self, call_sid: str) -> None:
        """End a live call (the caller hears nothing more)."""
        await self._update(call_sid, status="completed")

    async def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace what the live call is doing with ``twiml`` (this ends its Media Stream)."""
        await self._update(call_sid, twiml=twiml)

    async def create_call(
        self, *, to: str, from_: str, url: str, status_callback: str | None = None
    ) -> PlacedCall:
        """Place an outbound call; when answered Twilio fetches TwiML from ``url``."""
        try:
            call = await self._client.calls.create_async(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST" if status_callback else None,
                status_callback_event=["initiated", "ringing", "answered", "completed"]
                if status_callback
                else None,
            )
        except (TwilioRestException, TwilioException) as exc:
            raise TwilioRestError(f"Twilio refused the outbound call: {exc}") from None
        return PlacedCall(sid=str(call.sid), status=str(call.status or "queued"))

    async def _update(self, call_sid: str, **fields: str) -> None:
        try:
            await self._client.calls(call_sid).update_async(**fields)
        except (TwilioRestException, TwilioException) as exc:
            raise TwilioRestError(f"Twilio refused to update call {call_sid}: {exc}") from None

    async def aclose(self) -> None:
        await self._http.aclose()
