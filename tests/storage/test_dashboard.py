"""The dashboard in headless Chromium: real charts drawn from the analytics, and a live session.

Debian's Chromium driven by Playwright (``executable_path``); skipped without it, unless
``VOXGATE_REQUIRE_SERVICES=1``. ``VOXGATE_UPDATE_SCREENSHOT=1`` refreshes ``docs/dashboard.png``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from storekit import settled
from test_analytics import load_fixture

from browser.pagekit import VIEWPORT, launch, require_chromium
from integration.conftest import Gateway
from realtime_testkit import connect

pytestmark = pytest.mark.timeout(120)

PAGE_TIME_ZONE = "Europe/Bucharest"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
CHARTS = ("c-per-day", "c-per-hour", "c-usage", "c-channels", "c-tools", "c-services", "c-menu", "c-barge")

# For one canvas: the Chart.js chart on it, whether its datasets hold data, and how many pixels it painted.
CHART_STATE = """(id) => {
  const canvas = document.getElementById(id);
  const chart = window.Chart.getChart(canvas);
  if (!chart) return null;
  const values = chart.data.datasets.flatMap((d) => d.data).map(Number);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return { type: chart.config.type, labels: chart.data.labels.length, max: Math.max(0, ...values), painted };
}"""


async def test_the_dashboard_draws_the_analytics_and_follows_live_sessions(gateway: Gateway) -> None:
    require_chromium()
    app = gateway.app_gateway
    # The hand-computed fixture of the analytics test, moved so that its last day is today in the
    # page's time zone (in the last two or three hours of a UTC day, Bucharest is a day ahead).
    local_today = datetime.now(ZoneInfo(PAGE_TIME_ZONE)).date()
    today = datetime(local_today.year, local_today.month, local_today.day, tzinfo=UTC)
    async with app.db() as db:
        await load_fixture(db, shift=today - datetime(2030, 1, 8, tzinfo=UTC))
    # And a real session, so that the real tools and usage are in the charts too.
    client = await connect(f"{gateway.ws}/openai/realtime/before?agent=bartender")
    await client.until("session.updated")
    await client.say("What's on the menu?")
    await client.collect_until("response.done")
    await client.collect_until("response.done")
    await client.ws.close()
    await settled(app)

    async with async_playwright() as playwright:
        browser = await launch(playwright, None)
        try:
            page = await browser.new_page(viewport=VIEWPORT, timezone_id=PAGE_TIME_ZONE)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            await page.goto(f"{gateway.http}/dashboard")
            await expect(page.locator("body")).to_have_attribute("data-ready", "1", timeout=20_000)
            await expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=20_000)

            # The last 30 days: the whole fixture but its last session (tomorrow, in Bucharest) and
            # the real session: 8 sessions, 5 calls of which 2 booked and 2 ordered.
            await expect(page.locator("#t-sessions")).to_have_text("8")
            await expect(page.locator("#t-calls")).to_have_text("5")
            await expect(page.locator("#t-booked")).to_have_text("40.0%")
            await expect(page.locator("#t-ordered")).to_have_text("40.0%")
            await expect(page.locator("#t-barge")).to_have_text("1.00")

            for chart_id in CHARTS:
                state = await page.evaluate(CHART_STATE, chart_id)
                assert state is not None, f"{chart_id}: no chart"
                assert state["labels"] > 0 and state["max"] > 0, f"{chart_id}: no data {state}"
                assert state["painted"] > 2000, f"{chart_id}: nothing drawn {state}"
            services = await page.evaluate("() => Chart.getChart('c-services').data.labels")
            assert services == ["Tuns", "Vopsit"]
            tools = await page.evaluate("() => Chart.getChart('c-tools').data.labels")
            assert tools == ["book_appointment", "get_menu"]

            # Live: a session that starts while the page is open appears, and fills in as it goes.
            live = await connect(f"{gateway.ws}/openai/realtime/watched?agent=bartender")
            await live.until("session.updated")
            card = page.locator(".session-card").filter(has_text="watched")
            await expect(card).to_have_count(1, timeout=10_000)
            await expect(page.locator("#live-count")).to_have_text("1")
            await live.say("What's on the menu?")
            await live.collect_until("response.done")
            await live.collect_until("response.done")
            await expect(card.locator(".line.user")).to_have_text("What's on the menu?")
            await expect(card.locator(".line.tool")).to_contain_text("get_menu")
            await expect(card.locator(".line.assistant")).to_contain_text("Mojito")
            await expect(card.locator(".figures")).to_contain_text("tokens")

            # The recent sessions table, and a session's detail from it.
            rows = page.locator("#recent tbody tr")
            await expect(rows.first).to_be_visible()
            await page.locator("#recent tbody tr").filter(has_text="before").click()
            await expect(page.locator("#detail")).to_be_visible()
            await expect(page.locator("#detail-body .line.user")).to_have_text("What's on the menu?")

            if os.environ.get("VOXGATE_UPDATE_SCREENSHOT") == "1":  # a test run leaves the checkout untouched
                await page.screenshot(path=str(SCREENSHOT), full_page=True)
            await live.ws.close()
            assert errors == [], errors
        finally:
            await browser.close()


async def test_the_dashboard_and_its_files_are_served_locally(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        page = await http.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "http://" not in page.text and "https://" not in page.text, "no CDN"
        script = await http.get("/dashboard/vendor/chart.umd.min.js")
        assert script.status_code == 200 and script.text.startswith("/*!\n * Chart.js v4.6.1")
        assert (await http.get("/dashboard/vendor/chart.js.LICENSE.md")).text.startswith("The MIT License")
        for asset in ("dashboard.js", "dashboard.css"):
            assert (await http.get(f"/dashboard/{asset}")).status_code == 200
        for missing in ("../app.py", "client.html", "vendor", "x.js"):
            assert (await http.get(f"/dashboard/{missing}")).status_code == 404, missing
        assert (await http.get("/dashboard/vendor/other.js")).status_code == 404
