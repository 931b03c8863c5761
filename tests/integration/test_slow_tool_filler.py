"""A slow tool does not freeze the conversation: the agent says its filler line while it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from realtime_testkit import connect, transcript_of
from voxgate.app import SIMULATOR_API_KEY, create_app
from voxgate.serving import BackgroundServer, start_background_server
from voxgate.settings import Settings
from voxgate.tools.registry import ToolContext, ToolRegistry
from voxgate.transports.upstream import openai_connector


async def test_filler_line_is_spoken_while_a_slow_tool_runs(
    simulator: BackgroundServer, tmp_path: Path
) -> None:
    release = asyncio.Event()
    registry = ToolRegistry()

    @registry.tool(filler={"en": "One moment, checking the bar."}, filler_after_s=0.2)
    async def get_menu(ctx: ToolContext) -> dict[str, Any]:
        """List the drinks on the menu with their prices."""
        await release.wait()  # held until the test has heard the filler: no timing involved
        return {"items": [{"name": "Mojito", "price": 32.0}]}

    settings = Settings(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'slow.db'}",
        VOXGATE_JOURNAL=str(tmp_path / "slow.journal"),
    )
    connector = openai_connector(
        api_key=SIMULATOR_API_KEY,
        model="gpt-realtime",
        base_url=simulator.http_url + "/v1",
        websocket_base_url=simulator.ws_url + "/v1",
        backend="simulator",
    )
    server = await start_background_server(create_app(settings, connector=connector, registry=registry))
    try:
        client = await connect(f"{server.ws_url}/openai/realtime/slow?agent=bartender")
        await client.until("session.updated")
        await client.say("What's on the menu?")
        await client.until("response.function_call_arguments.done")
        filler = await client.until("response.created")
        assert filler["response"]["conversation_id"] is None  # out of band: not part of the conversation
        events = await client.collect_until("response.done")
        assert "One moment, checking the bar." in transcript_of(events)
        release.set()
        reply = await client.collect_until("response.done")
        while not any(e["type"] == "response.output_audio_transcript.delta" for e in reply):
            reply = await client.collect_until("response.done")
        assert "Mojito" in transcript_of(reply)
        await client.ws.close()
    finally:
        await server.stop()
