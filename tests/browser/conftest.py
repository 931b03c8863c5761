"""The browser test client in real headless Chromium, in front of the real gateway and simulator.

Without Chromium the tests are skipped, or fail when ``VOXGATE_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from browser.pagekit import VIEWPORT, ClientPage, OpenClient, launch, require_chromium

# The gateway-in-front-of-the-simulator fixtures, shared with the integration tests.
from integration.conftest import Gateway, gateway, make_gateway, simulator

__all__ = ["gateway", "make_gateway", "open_client", "simulator"]


@pytest.fixture
async def open_client(gateway: Gateway) -> AsyncIterator[OpenClient]:
    """Opens the test client in a fresh Chromium, optionally with a WAV file as its microphone.

    The page is served by ``gateway`` unless ``via`` names another gateway.
    """
    require_chromium()
    async with async_playwright() as playwright:
        browsers: list[Browser] = []
        pages: list[ClientPage] = []

        async def open_page(
            *, microphone: Path | None = None, query: str = "", via: Gateway | None = None
        ) -> ClientPage:
            server = via or gateway
            browser = await launch(playwright, microphone)
            browsers.append(browser)
            context = await browser.new_context(viewport=VIEWPORT)
            page = await context.new_page()
            client = ClientPage(page, server)
            page.on("pageerror", lambda error: client.errors.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    client.errors.append(f"console error: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            await page.goto(f"{server.http}/openai/client{query}")
            pages.append(client)
            return client

        yield open_page
        for browser in browsers:
            await browser.close()
    for client in pages:
        assert client.errors == [], client.errors
