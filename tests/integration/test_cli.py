"""``voxgate serve`` as a user runs it: a real process on its embedded defaults."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from realtime_testkit import connect, transcript_of


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "VOXGATE_", "PORT"))}
    env.update(extra)
    return env


def test_public_address_without_keys_is_refused_with_a_readable_message(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "voxgate", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "VOXGATE_API_KEYS" in run.stderr and "Traceback" not in run.stderr


def test_bad_setting_is_refused_with_a_readable_message(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "voxgate", "serve"],
        cwd=tmp_path,
        env=_env(PORT="eighty"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "PORT" in run.stderr and "Traceback" not in run.stderr


async def test_serve_on_embedded_defaults_answers_a_conversation(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voxgate",
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env=_env(),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[str] = []
    port = None
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await process.stderr.readline()).decode()
                assert line, "voxgate serve exited early:\n" + "".join(lines)
                lines.append(line)
                found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                port = int(found.group(1)) if found else port
                if "Application startup complete" in line or "client authentication" in line:
                    break
        log = "".join(lines)
        assert "backend: simulator" in log and "database:" in log and port
        client = await connect(f"ws://127.0.0.1:{port}/openai/realtime/cli")
        assert (await client.recv())["type"] == "connection_established"
        await client.say("Hello!")
        events = await client.collect_until("response.done")
        assert transcript_of(events)
        await client.ws.close()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0
