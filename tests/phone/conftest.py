"""Real servers on loopback for the phone line: a simulator, voxgate, and a stand-in for Twilio's REST API.

Nothing is patched: the gateway is configured (``TWILIO_API_BASE_URL``) to send its REST requests
to the stand-in, and the tests play Twilio with the caller simulator (``voxgate.caller``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from phone_testkit import ACCOUNT_SID, AUTH_TOKEN, Clock, Phone, PhoneFactory, TwilioStandIn
from voxgate.app import SIMULATOR_API_KEY, create_app
from voxgate.bench.procs import free_port
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.settings import Settings
from voxgate.simulator import SimulatorOptions, create_simulator_app, parse_scenario
from voxgate.transports.upstream import openai_connector


@pytest.fixture
async def twilio_api() -> AsyncIterator[TwilioStandIn]:
    stand_in = TwilioStandIn()
    stand_in.server = await start_background_server(stand_in.app())
    yield stand_in
    await stand_in.server.stop()


@pytest.fixture
async def make_phone(tmp_path: Path) -> AsyncIterator[PhoneFactory]:
    started: list[BackgroundServer] = []

    async def make(
        *,
        pace: str = "fast",
        scenario: list[dict[str, Any]] | None = None,
        rest: TwilioStandIn | None = None,
        dead_upstream: bool = False,
        simulator_options: SimulatorOptions | None = None,
        **overrides: Any,
    ) -> Phone:
        options = simulator_options or SimulatorOptions(pace="realtime" if pace == "realtime" else "fast")
        if scenario is not None:
            options.scenarios = [parse_scenario(scenario, default_name="phone_test")]
        simulator = await start_background_server(create_simulator_app(options))
        started.append(simulator)
        port = free_port()
        n = len(started)
        values: dict[str, Any] = {
            "twilio_auth_token": AUTH_TOKEN,
            "public_url": f"http://127.0.0.1:{port}",
            "database_url": f"sqlite+aiosqlite:///{tmp_path / f'phone{n}.db'}",
            "journal_path": str(tmp_path / f"phone{n}.journal"),
        }
        if rest is not None:
            values.update(twilio_account_sid=ACCOUNT_SID, twilio_api_base_url=rest.url)
        values.update(overrides)
        settings = Settings(**values)
        upstream = f"http://127.0.0.1:{free_port()}" if dead_upstream else simulator.http_url
        connector = openai_connector(
            api_key=SIMULATOR_API_KEY,
            model=settings.openai_realtime_model,
            base_url=upstream + "/v1",
            websocket_base_url="ws" + upstream[4:] + "/v1",
            backend="simulator",
            connect_timeout=3.0,
        )
        clock = Clock()
        server = await start_background_server(
            create_app(settings, connector=connector, wall_clock=clock), port=port
        )
        started.append(server)
        return Phone(server, simulator, settings, clock)

    yield make
    for server in reversed(started):
        await server.stop()
