"""REST routes and client authentication, over real sockets."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from realtime_testkit import connect
from voxgate.settings import ConfigError, load_settings


async def test_health_status_connect_and_client_page(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        health = (await http.get("/health")).json()
        assert health["status"] == "ok" and health["backend"] == "simulator"

        client = await connect(f"{gateway.ws}/openai/realtime/watched")
        await client.until("session.updated")
        status = (await http.get("/openai/status")).json()
        assert status["active_sessions"] == 1 and status["upstream_reachable"] is True
        (summary,) = status["sessions"]
        assert summary["client_id"] == "watched" and summary["agent"] == "bartender"
        assert summary["upstream_session_id"].startswith("sess_")
        assert status["chain"][0].startswith("validate:")
        await client.ws.close()

        probe = (await http.post("/openai/connect/probe")).json()
        assert probe["ok"] is True and probe["latency_ms"] >= 0 and probe["session"]["id"].startswith("sess_")

        page = await http.get("/openai/client")
        assert page.status_code == 200 and "voxgate test client" in page.text


async def test_token_endpoint_mints_a_secret_for_the_agent(gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        response = await http.post("/openai/token", params={"agent": "salon"})
        assert response.status_code == 200
        body = response.json()
        assert body["value"].startswith("ek_") and body["expires_at"] > 0
        assert "Bella" in body["session"]["instructions"]
        assert (await http.post("/openai/token", params={"agent": "pirate"})).status_code == 404
        assert (await http.post("/openai/token", params={"ttl_seconds": 5})).status_code == 422


async def test_connect_reports_an_unreachable_upstream(make_gateway) -> None:
    gateway = await make_gateway(upstream_url="http://127.0.0.1:9")
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        probe = (await http.post("/openai/connect/probe")).json()
    assert probe["ok"] is False and "error" in probe


async def test_client_keys_are_required_when_configured(make_gateway) -> None:
    gateway = await make_gateway(VOXGATE_API_KEYS="k-one,k-two")
    refused = await connect(f"{gateway.ws}/openai/realtime/anon")
    error = await refused.recv()
    assert error["type"] == "error" and error["error"]["code"] == "unauthorized"
    with pytest.raises(ConnectionClosed) as closed:
        await refused.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    by_header = await connect(
        f"{gateway.ws}/openai/realtime/h", additional_headers={"Authorization": "Bearer k-one"}
    )
    assert (await by_header.recv())["type"] == "connection_established"
    by_query = await connect(f"{gateway.ws}/openai/realtime/q?token=k-two")
    assert (await by_query.recv())["type"] == "connection_established"
    by_subprotocol = await connect(
        f"{gateway.ws}/openai/realtime/s", subprotocols=["realtime", "openai-insecure-api-key.k-one"]
    )
    assert by_subprotocol.ws.subprotocol == "realtime"
    assert (await by_subprotocol.recv())["type"] == "connection_established"
    for client in (by_header, by_query, by_subprotocol):
        await client.ws.close()

    sdk_refused = await connect(
        f"{gateway.ws}/v1/realtime", additional_headers={"Authorization": "Bearer nope"}
    )
    assert (await sdk_refused.recv())["error"]["code"] == "invalid_api_key"
    with pytest.raises(ConnectionClosed) as closed:
        await sdk_refused.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 3000

    async with httpx.AsyncClient(base_url=gateway.http) as http:
        assert (await http.post("/openai/token")).status_code == 401
        ok = await http.post("/openai/token", headers={"Authorization": "Bearer k-two"})
        assert ok.status_code == 200


def test_refuses_to_serve_a_public_address_without_client_keys() -> None:
    settings = load_settings(host="0.0.0.0")
    with pytest.raises(ConfigError, match="VOXGATE_API_KEYS"):
        settings.check_ready_to_serve()
    load_settings(host="0.0.0.0", VOXGATE_API_KEYS="secret").check_ready_to_serve()
    load_settings(host="127.0.0.1").check_ready_to_serve()


def test_a_bad_setting_is_one_readable_message() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(PORT="eighty")
    assert "PORT" in str(error.value) and "Traceback" not in str(error.value)
