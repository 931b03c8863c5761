"""Watching the gateway: Prometheus metrics, the dashboard page and its live feed.

- ``GET /metrics``: Prometheus text (like ``/health``, open: scrapers rarely carry keys, and there is no
  personal data in it).
- ``GET /dashboard``: the page (static; every figure it shows comes from admin-key protected routes).
- ``GET /api/live``: server-sent events: first a ``snapshot`` of the active sessions, then a ``note``
  per change (a session started or ended, a transcript grew, a tool was called, usage).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources
from typing import Final

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from voxgate.live import Note
from voxgate.metrics import CONTENT_TYPE
from voxgate.routes import AdminAuth, GatewayDep

router = APIRouter(tags=["monitoring"])

HEARTBEAT_S: Final = 15.0
ASSETS: Final = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
VENDOR: Final = {
    "chart.umd.min.js": "text/javascript; charset=utf-8",
    "chart.js.LICENSE.md": "text/markdown; charset=utf-8",
    "README.md": "text/markdown; charset=utf-8",
}


@router.get("/metrics")
async def metrics(gateway: GatewayDep) -> Response:
    """Prometheus metrics of this gateway."""
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)


def _web_file(*parts: str) -> bytes:
    return resources.files("voxgate.web").joinpath(*parts).read_bytes()


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard() -> HTMLResponse:
    """Charts of the analytics and a live view of the active sessions."""
    return HTMLResponse(_web_file("dashboard.html"), headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/vendor/{name}")
async def dashboard_vendor(name: str) -> Response:
    """Third-party files the dashboard uses, served from the package (no CDN)."""
    if name not in VENDOR:
        raise HTTPException(status_code=404, detail=f"no vendored file {name!r}")
    return Response(
        _web_file("vendor", name), media_type=VENDOR[name], headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/dashboard/{asset}")
async def dashboard_asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise HTTPException(status_code=404, detail=f"no dashboard file {asset!r}")
    return Response(_web_file(asset), media_type=ASSETS[asset], headers={"Cache-Control": "no-cache"})


def _sse(event: str, data: Note | list[Note]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@router.get("/api/live", dependencies=[AdminAuth])
async def live(request: Request, gateway: GatewayDep) -> StreamingResponse:
    """Server-sent events of the active sessions (transcripts and tool calls as they happen)."""
    recorder = gateway.recording

    async def stream() -> AsyncIterator[bytes]:
        async with recorder.live.listening() as subscription:
            yield _sse("snapshot", {"sessions": recorder.snapshot(), "recording": recorder.enabled})
            while not await request.is_disconnected():
                note = await subscription.get(timeout=HEARTBEAT_S)
                yield _sse("note", note) if note is not None else b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
