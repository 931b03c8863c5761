"""Which business a connection serves (``?business=``); the demo data on first start and ``demo-data``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dbfixtures import backend, db_url, pg_prefix  # noqa: F401
from realtime_testkit import connect
from voxgate.store.models import Business, Service


def _db(gateway: Any) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = gateway.app_gateway.db
    return factory


async def _refusal(url: str) -> tuple[dict[str, object], int | None]:
    client = await connect(url)
    error = await client.recv()
    await client.ws.wait_closed()
    return error, client.ws.close_code


async def test_business_picks_the_agent_and_scopes_the_tools(gateway: Any) -> None:
    async with _db(gateway)() as db, db.begin():
        other = Business(slug="salon-doi", kind="salon", name="Salon Doi", language="ro")
        db.add(other)
        await db.flush()
        db.add(Service(business_id=other.id, name="Pensat", duration_min=15, price=Decimal(40)))

    client = await connect(gateway.ws + "/openai/realtime/c1?business=salon-doi")
    hello = await client.recv()
    assert hello["type"] == "connection_established" and hello["agent"] == "salon"
    await client.send({"type": "function_call", "function_name": "get_available_services", "arguments": {}})
    result = (await client.until("function_call_result"))["result"]
    assert result["salon"] == "Salon Doi" and [s["name"] for s in result["services"]] == ["Pensat"]
    await client.ws.close()

    # Without ?business=, the tools use the first business of the agent's kind: the demo salon.
    plain = await connect(gateway.ws + "/openai/realtime/c2?agent=salon")
    await plain.recv()
    await plain.send({"type": "function_call", "function_name": "get_available_services", "arguments": {}})
    assert (await plain.until("function_call_result"))["result"]["salon"] == "Salon Bella"
    await plain.ws.close()

    bar = await connect(gateway.ws + "/v1/realtime?business=blue-note")
    created = await bar.recv()
    assert created["type"] == "session.created"
    updated = await bar.until("session.updated")
    assert [t["name"] for t in updated["session"]["tools"]] == ["get_menu", "check_id", "place_order"]
    await bar.ws.close()


async def test_unknown_business_and_mismatched_agent_are_refused(gateway: Any) -> None:
    error, code = await _refusal(gateway.ws + "/openai/realtime/c1?business=nowhere")
    assert error["type"] == "error" and error["error"]["code"] == "unknown_business"  # type: ignore[index]
    assert code == 1008
    error, code = await _refusal(gateway.ws + "/openai/realtime/c2?business=bella&agent=bartender")
    assert error["error"]["code"] == "agent_business_mismatch" and code == 1008  # type: ignore[index]
    error, _ = await _refusal(gateway.ws + "/v1/realtime?business=" + "%00")
    assert error["error"]["code"] == "unknown_business"  # type: ignore[index]


async def test_the_first_start_on_an_empty_embedded_database_loads_the_demo(
    make_gateway: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="voxgate.database"):
        gateway = await make_gateway()
    assert any("loaded the demo businesses blue-note, bella" in r.getMessage() for r in caplog.records)
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        menu = (await http.get("/api/menu")).json()
        assert any(item["name"] == "Mojito" for item in menu)
        services = (await http.get("/api/services", params={"business": "bella"})).json()
        assert any(service["name"] == "Tuns" for service in services)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VOXGATE_", "DATABASE_"))}
    env.update(extra)
    return env


def test_demo_data_command_is_idempotent(tmp_path: Path) -> None:
    env = _env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voxgate", "demo-data"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    first = run()
    assert first.returncode == 0, first.stderr
    assert "blue-note, bella" in first.stdout
    second = run()
    assert second.returncode == 0 and "already present" in second.stdout


def test_demo_data_command_reports_an_unreachable_database_readably(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "voxgate", "demo-data"],
        cwd=tmp_path,
        env=_env(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2 and "Cannot reach the database" in run.stderr and "Traceback" not in run.stderr


async def test_demo_data_command_on_both_backends(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    from voxgate.database import load_demo_data
    from voxgate.settings import Settings

    settings = Settings(DATABASE_URL=db_url, VOXGATE_JOURNAL=str(tmp_path / "journal"))
    _, report = await load_demo_data(settings)
    assert report.businesses == ["blue-note", "bella"]
    _, again = await load_demo_data(settings)
    assert not again.changed
