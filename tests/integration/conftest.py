"""Real servers on loopback: the simulator, and voxgate in front of it, each on its own free port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from voxgate.app import SIMULATOR_API_KEY, create_app
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.settings import Settings
from voxgate.simulator import SimulatorOptions, create_simulator_app
from voxgate.transports.upstream import openai_connector


@pytest.fixture
async def simulator() -> AsyncIterator[BackgroundServer]:
    server = await start_background_server(create_simulator_app(SimulatorOptions()))
    yield server
    await server.stop()


@dataclass
class Gateway:
    server: BackgroundServer
    simulator: BackgroundServer
    settings: Settings

    @property
    def http(self) -> str:
        return self.server.http_url

    @property
    def ws(self) -> str:
        return self.server.ws_url

    @property
    def app_gateway(self) -> Any:
        return self.server.server.config.app.state.gateway


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(simulator: BackgroundServer, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    started: list[BackgroundServer] = []

    async def make(
        upstream_url: str | None = None, *, wall_clock: Callable[[], datetime] | None = None, **overrides: Any
    ) -> Gateway:
        overrides.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / f'gw{len(started)}.db'}")
        overrides.setdefault("VOXGATE_JOURNAL", str(tmp_path / f"gw{len(started)}.journal"))
        settings = Settings(**overrides)
        base = upstream_url or simulator.http_url
        connector = openai_connector(
            api_key=SIMULATOR_API_KEY,
            model=settings.openai_realtime_model,
            base_url=base + "/v1",
            websocket_base_url="ws" + base[4:] + "/v1",
            backend="simulator",
            connect_timeout=3.0,
        )
        clock = {"wall_clock": wall_clock} if wall_clock is not None else {}
        app = create_app(settings, connector=connector, **clock)
        server = await start_background_server(
            app, max_message_bytes=settings.max_message_bytes, ws_compression=settings.ws_compression
        )
        started.append(server)
        return Gateway(server, simulator, settings)

    yield make
    for server in started:
        await server.stop()


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()
