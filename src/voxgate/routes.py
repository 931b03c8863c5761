"""The gateway's REST routes beside the WebSocket doors: health, status, tokens, test connect, test page."""

from __future__ import annotations

import time
from importlib import resources
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from voxgate.agents.profiles import PROFILES, AgentProfile, get_profile
from voxgate.auth import authorize, key_matches, presented_key
from voxgate.gateway import Gateway
from voxgate.protocol.realtime import JSON
from voxgate.settings import is_loopback_host
from voxgate.transports.upstream import UpstreamUnavailable

router = APIRouter()


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def require_client(request: Request, gateway: GatewayDep) -> None:
    """The same client authentication as the WebSocket doors."""
    decision = authorize(
        keys=gateway.settings.client_keys,
        headers=request.headers,
        query=request.query_params,
        subprotocols=(),
        client_host=request.client.host if request.client else None,
    )
    if not decision.ok:
        raise HTTPException(status_code=401, detail=decision.reason, headers={"WWW-Authenticate": "Bearer"})


def require_admin(request: Request, gateway: GatewayDep) -> None:
    """The admin key as a Bearer token; with none configured, loopback clients only."""
    admin_key = gateway.settings.admin_key
    if admin_key is None:
        host = request.client.host if request.client else None
        if host is None or not is_loopback_host(host):
            raise HTTPException(status_code=403, detail="no admin key is configured: loopback clients only")
        return
    if not key_matches(presented_key(request.headers, {}), [admin_key.get_secret_value()]):
        raise HTTPException(
            status_code=401, detail="admin key required", headers={"WWW-Authenticate": "Bearer"}
        )


ClientAuth = Depends(require_client)
AdminAuth = Depends(require_admin)


def _profile_or_404(gateway: Gateway, name: str | None) -> AgentProfile:
    profile = get_profile(name or gateway.settings.default_agent)
    if profile is None:
        raise HTTPException(status_code=404, detail=f"no agent named '{name}'; known: {', '.join(PROFILES)}")
    return profile


@router.get("/health")
async def health(gateway: GatewayDep) -> JSON:
    """Liveness and the state of each dependency."""
    return {
        "status": "ok",
        "backend": gateway.connector.backend,
        "active_sessions": len(gateway.sessions),
    }


@router.get("/openai/status", dependencies=[AdminAuth])
async def status(gateway: GatewayDep) -> JSON:
    """Backend, upstream reachability, active sessions and a summary of each."""
    report = gateway.status()
    started = time.perf_counter()
    try:
        connection = await gateway.connector.connect()
        await connection.close()
        report["upstream_reachable"] = True
        report["upstream_latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    except UpstreamUnavailable as exc:
        report["upstream_reachable"] = False
        report["upstream_error"] = str(exc)
    return report


@router.get("/openai/agents")
async def agents() -> JSON:
    """The agent profiles a client can ask for with ``?agent=``."""
    return {
        "agents": [
            {
                "name": p.name,
                "title": p.title,
                "language": p.language,
                "voice": p.voice,
                "tools": list(p.tools),
            }
            for p in PROFILES.values()
        ]
    }


@router.post("/openai/token", dependencies=[ClientAuth])
async def token(gateway: GatewayDep, agent: str | None = None, ttl_seconds: int = 600) -> JSON:
    """An ephemeral client secret for the agent's session, fixed by the server (instructions, tools)."""
    if not 10 <= ttl_seconds <= 7200:
        raise HTTPException(status_code=422, detail="ttl_seconds must be between 10 and 7200")
    profile = _profile_or_404(gateway, agent)
    try:
        secret = await gateway.mint_token(profile, ttl_seconds)
    except UpstreamUnavailable as exc:
        raise HTTPException(status_code=502, detail=str(exc)) from None
    return {"value": secret["value"], "expires_at": secret["expires_at"], "session": secret.get("session")}


@router.post("/openai/connect/{client_id}", dependencies=[ClientAuth])
async def test_connect(client_id: str, gateway: GatewayDep) -> JSON:
    """Open and close a test upstream session; reports whether it worked and how long it took."""
    started = time.perf_counter()
    try:
        connection = await gateway.connector.connect()
    except UpstreamUnavailable as exc:
        return {
            "ok": False,
            "client_id": client_id,
            "error": str(exc),
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    try:
        first = await connection.recv()
    finally:
        await connection.close()
    latency = round((time.perf_counter() - started) * 1000, 1)
    event = orjson.loads(first)
    session = event.get("session") or {}
    return {
        "ok": event.get("type") == "session.created",
        "client_id": client_id,
        "latency_ms": latency,
        "backend": gateway.connector.backend,
        "session": {
            "id": session.get("id"),
            "model": session.get("model"),
            "expires_at": session.get("expires_at"),
        },
    }


@router.get("/openai/client", response_class=HTMLResponse)
async def test_client() -> HTMLResponse:
    """The browser test client."""
    page = resources.files("voxgate.web").joinpath("client.html").read_text(encoding="utf-8")
    return HTMLResponse(page)


CLIENT_ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@router.get("/openai/client/{asset}")
async def test_client_asset(asset: str) -> Response:
    """The test client's static files (scripts, styles), from the ``voxgate.web`` package."""
    suffix = asset[asset.rfind(".") :] if "." in asset else ""
    media_type = CLIENT_ASSET_TYPES.get(suffix)
    safe = media_type is not None and not asset.startswith(".") and "/" not in asset and "\\" not in asset
    file = resources.files("voxgate.web").joinpath(asset) if safe else None
    if media_type is None or file is None or not file.is_file():
        raise HTTPException(status_code=404, detail=f"no client asset named '{asset}'")
    return Response(file.read_bytes(), media_type=media_type, headers={"Cache-Control": "no-cache"})
