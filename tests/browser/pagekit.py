"""Helpers for driving the test client in headless Chromium: launch, the page, the fake microphone.

Debian's Chromium (``/usr/bin/chromium``, or ``$VOXGATE_CHROMIUM``) is driven by Playwright with
``executable_path`` (Playwright's own browser download is not used); its microphone is Chromium's
fake capture device playing a WAV file the test synthesizes.
"""

from __future__ import annotations

import math
import os
import wave
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Browser, Page, Playwright, ViewportSize, expect

from integration.conftest import Gateway

CHROMIUM = Path(os.environ.get("VOXGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
)
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


def require_chromium() -> None:
    """Skip without Chromium; in CI (VOXGATE_REQUIRE_SERVICES=1) fail instead."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium, or make browser-deps)"
    if os.environ.get("VOXGATE_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and VOXGATE_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


# -- the fake microphone --------------------------------------------------------------------------


def speech_wav(path: Path, segments: Sequence[tuple[str, float]], rate: int = 48_000) -> Path:
    """Write a 16-bit mono WAV of ("silence" | "speech", seconds) segments.

    "Speech" is a voiced sound: a 140 Hz fundamental with vibrato and harmonics shaped by two vowel
    formants, in syllables of about 4 a second, peaking near -9 dBFS. Its 10 ms loudness stays far above
    the simulator's energy VAD threshold (-37.5 dBFS); the silences are digital zero.
    """
    pieces: list[np.ndarray[Any, np.dtype[np.float64]]] = []
    for kind, seconds in segments:
        n = round(rate * seconds)
        if kind == "silence":
            pieces.append(np.zeros(n))
            continue
        t = np.arange(n) / rate
        f0 = 140.0 * (1.0 + 0.03 * np.sin(2 * math.pi * 5.0 * t))
        phase = 2 * math.pi * np.cumsum(f0) / rate
        voice = np.zeros(n)
        for k in range(1, 25):
            freq = 140.0 * k
            gain = sum(1.0 / (1.0 + ((freq - f) / (0.12 * f + 60.0)) ** 2) for f in (650.0, 1300.0))
            voice += gain / math.sqrt(k) * np.sin(k * phase)
        voice /= np.max(np.abs(voice))
        syllables = 0.65 + 0.35 * np.sin(2 * math.pi * 4.0 * t)
        fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)
        pieces.append(0.35 * voice * syllables * fade)
    pcm = (np.clip(np.concatenate(pieces), -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def spoken_wav(path: Path, text: str, *, lead: float = 0.4, tail: float = 6.0) -> Path:
    """Write a 16-bit mono 24 kHz WAV of ``text`` in the simulated caller's voice (espeak-ng), with
    ``lead`` and ``tail`` seconds of silence around it."""
    from voxgate.simulator import caller_speech

    rate = 24_000
    pcm = bytes(2 * round(rate * lead)) + caller_speech(text, "en") + bytes(2 * round(rate * tail))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


# -- the page ---------------------------------------------------------------------------------------


@dataclass
class ClientPage:
    """The test client open in a Chromium page, with helpers over its ``window.voxgate`` view."""

    page: Page
    gateway: Gateway
    errors: list[str] = field(default_factory=list)

    async def debug(self, name: str) -> Any:
        return await self.page.evaluate(f"window.voxgate.{name}")

    async def wait_until(self, predicate: str, timeout: float = 15.0) -> None:
        """Wait until the JavaScript expression ``predicate`` (over ``vg = window.voxgate``) is true."""
        await self.page.wait_for_function(
            f"(() => {{ const vg = window.voxgate; return {predicate}; }})()", timeout=timeout * 1000
        )

    async def events(self, kind: str | None = None, direction: str | None = None) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await self.debug("events")
        return [
            e["event"]
            for e in entries
            if (kind is None or e["type"] == kind) and (direction is None or e["dir"] == direction)
        ]

    async def wait_for_event(self, kind: str, direction: str = "in", timeout: float = 15.0) -> dict[str, Any]:
        await self.wait_until(
            f"vg.events.some(e => e.type === {kind!r} && e.dir === {direction!r})", timeout=timeout
        )
        return (await self.events(kind, direction))[0]

    async def connect(self, agent: str = "bartender") -> None:
        page = self.page
        await expect(page.get_by_label("Agent")).not_to_have_text("loading…")
        await page.get_by_label("Agent").select_option(agent)
        await page.get_by_role("button", name="Connect", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("connected as", timeout=15_000)
        await expect(page.get_by_role("button", name="Send")).to_be_enabled()


OpenClient = Callable[..., Awaitable[ClientPage]]


async def launch(playwright: Playwright, microphone: Path | None) -> Browser:
    args = list(CHROMIUM_ARGS)
    if microphone is not None:
        # %noloop: the file plays once, then the fake device captures silence.
        args.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
