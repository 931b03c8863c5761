"""End-to-end: the test client in headless Chromium, talking to the gateway in front of the simulator."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from browser.pagekit import ClientPage, OpenClient, spoken_wav
from integration.conftest import Gateway, GatewayFactory

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "client.png"


async def test_page_and_its_assets_are_served(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.http) as http:
        page = await http.get("/openai/client")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for asset, media_type in (
            ("client.js", "text/javascript"),
            ("audio.js", "text/javascript"),
            ("audio-worklet.js", "text/javascript"),
            ("client.css", "text/css"),
        ):
            assert f"client/{asset}" in page.text or asset in ("audio.js", "audio-worklet.js")
            response = await http.get(f"/openai/client/{asset}")
            assert response.status_code == 200, asset
            assert response.headers["content-type"].startswith(media_type)
        for missing in ("nothing.js", "__init__.py", "client.html", "..%2Froutes.py", ".hidden.js"):
            assert (await http.get(f"/openai/client/{missing}")).status_code == 404, missing


async def test_text_turn_streams_the_answer_and_shows_the_tool_call(open_client: OpenClient) -> None:
    client = await open_client()
    page = client.page
    await client.connect()
    await expect(page.get_by_role("status")).to_contain_text("simulator")

    await page.get_by_label("Message").fill("What's on the menu?")
    await page.get_by_role("button", name="Send").click()

    await expect(page.locator(".turn.user")).to_have_text(re.compile(r"What's on the menu\?"))
    tool = page.locator(".tool").filter(has_text="get_menu")
    await expect(tool).to_have_count(1, timeout=15_000)
    await expect(tool).to_have_attribute("data-status", "done", timeout=15_000)
    await expect(tool.locator(".result pre")).to_contain_text("Mojito")
    answer = page.locator(".turn.assistant")
    await expect(answer).to_have_count(1, timeout=15_000)
    await expect(answer).to_contain_text("lei", timeout=15_000)

    # Streamed: the answer arrived in several deltas, each logged; the arguments came from the model.
    deltas = await client.events("response.output_audio_transcript.delta")
    assert len(deltas) > 3
    done = await client.events("response.function_call_arguments.done")
    assert [d["name"] for d in done] == ["get_menu"]
    outputs = [
        e
        for e in await client.events("conversation.item.added")
        if e["item"]["type"] == "function_call_output"
    ]
    assert [o["item"]["call_id"] for o in outputs] == [done[0]["call_id"]]
    sent = await client.events("conversation.item.create", "out")
    assert sent[0]["item"]["content"][0]["text"] == "What's on the menu?"
    assert await client.events("response.create", "out")

    await client.wait_until("vg.scheduledSamples > 24000", timeout=10)


async def test_the_test_buttons(open_client: OpenClient) -> None:
    client = await open_client()
    page = client.page
    await client.connect()
    output = page.get_by_label("Test output")

    await page.get_by_role("button", name="Get ephemeral token").click()
    await expect(output).to_contain_text("Ephemeral token")
    token = await client.wait_for_event("token")
    assert token["value"].startswith("ek_")
    await expect(output).to_contain_text(token["value"])

    await page.get_by_label("Function").fill("get_menu")
    await page.get_by_label("Arguments (JSON)").fill('{"category": "beer"}')
    await page.get_by_role("button", name="Call function").click()
    result = await client.wait_for_event("function_call_result")
    assert result["function_name"] == "get_menu"
    assert [i["name"] for i in result["result"]["items"]] == ["Ursus Draught"]
    mine = page.locator(".tool").filter(has_text="called from this page")
    await expect(mine).to_contain_text("Ursus Draught")
    await expect(mine.locator(".arguments")).to_contain_text('"category": "beer"')

    await client.wait_for_event("session.updated")
    show = page.get_by_role("button", name="Show session")
    await show.click()
    await expect(page.get_by_role("button", name="Hide session")).to_have_attribute("aria-expanded", "true")
    await expect(output).to_contain_text("get_menu")
    await expect(output).to_contain_text("Blue Note")
    await expect(output).to_contain_text('"audio/pcm"')

    # The log filters by type and direction.
    rows = page.get_by_role("list", name="Event log").get_by_role("listitem")
    await page.get_by_label("Filter events").fill("session.")
    await expect(rows).to_have_count(2)  # session.created and session.updated
    await page.get_by_label("Filter events").fill("")
    await page.get_by_label("Direction").select_option("out")
    await expect(rows).to_have_count(2)
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.type)") == ["function_call", "get_token"]
    await rows.first.locator("summary").click()  # a row opens to its raw JSON
    await expect(rows.first.locator("pre")).to_contain_text('"function_name": "get_menu"')

    await page.get_by_role("button", name="Disconnect").click()
    await expect(page.get_by_role("status")).to_contain_text("disconnected")
    assert await client.debug("state") == "disconnected"


async def test_client_key_goes_as_a_subprotocol(
    open_client: OpenClient, make_gateway: GatewayFactory
) -> None:
    keyed = await make_gateway(VOXGATE_API_KEYS="k-browser")
    client = await open_client(via=keyed, query="?agent=salon&client_id=kiosk-7")
    page = client.page
    await expect(page.get_by_label("Agent")).to_have_value("salon")
    await expect(page.get_by_label("Client id")).to_have_value("kiosk-7")

    await page.get_by_role("button", name="Connect", exact=True).click()
    await expect(page.get_by_role("status")).to_contain_text("disconnected (")
    # The gateway refuses a missing key with an `unauthorized` error and close 1008, echoing the
    # browser's `realtime` subprotocol so that the page gets to read why.
    await expect(page.get_by_role("alert")).to_contain_text("unauthorized")
    await page.get_by_role("button", name="Dismiss").click()
    await expect(page.get_by_role("alert")).to_be_hidden()

    await page.get_by_label("Client key (optional)").fill("k-browser")
    await client.connect(agent="salon")
    established = await client.wait_for_event("connection_established")
    assert (established["client_id"], established["agent"]) == ("kiosk-7", "salon")


async def test_talk_through_the_fake_microphone(open_client: OpenClient, tmp_path: Path) -> None:
    wav = spoken_wav(tmp_path / "speech.wav", "What is on the menu?")
    client = await open_client(microphone=wav)
    page = client.page
    await client.connect()

    await page.get_by_role("button", name="Start microphone").click()
    await expect(page.get_by_role("button", name="Stop microphone")).to_have_attribute("aria-pressed", "true")
    await client.wait_for_event("input_audio_buffer.speech_started", timeout=10)
    await client.wait_for_event("input_audio_buffer.speech_stopped", timeout=10)
    user = page.locator(".turn.user")
    await expect(user).to_have_count(1)
    # The simulator hears the words (pocketsphinx), and its brain asks the bar's tools for the menu.
    await expect(user).to_contain_text(re.compile(r"menu", re.IGNORECASE), timeout=15_000)
    call = await client.wait_for_event("response.function_call_arguments.done", timeout=15)
    assert call["name"] == "get_menu"
    await expect(page.locator(".turn.assistant")).to_have_count(1, timeout=15_000)
    await expect(page.locator(".turn.assistant")).to_contain_text("lei", timeout=15_000)

    # The reply's audio went to the player, and plays.
    await client.wait_until("vg.scheduledSamples > 24000", timeout=10)
    played_before = await client.debug("playedMs")
    await page.wait_for_timeout(500)
    assert await client.debug("playedMs") > played_before

    # What the microphone sent: PCM16 24 kHz in batches of tens of milliseconds.
    appends = await client.events("input_audio_buffer.append", "out")
    assert len(appends) > 10
    assert {a["audio"] for a in appends} == {"‹2880 bytes of audio›"}  # 60 ms of PCM16 at 24 kHz
    # ... resampled from the audio context's own rate: 24,000 samples a second of microphone time.
    rate = await page.evaluate(
        """async () => {
            const [s0, t0] = [window.voxgate.micSamplesSent, performance.now()];
            await new Promise((resolve) => setTimeout(resolve, 2000));
            return (window.voxgate.micSamplesSent - s0) / ((performance.now() - t0) / 1000);
        }"""
    )
    assert 21_000 < rate < 27_000, rate
    assert not await client.events("conversation.item.truncate", "out")

    await page.get_by_role("button", name="Stop microphone").click()
    await expect(page.get_by_role("button", name="Start microphone")).to_have_attribute(
        "aria-pressed", "false"
    )


async def test_barge_in_stops_playback_and_truncates_at_what_was_played(
    open_client: OpenClient, tmp_path: Path
) -> None:
    wav = spoken_wav(tmp_path / "barge.wav", "Thanks a lot.", lead=1.0)
    client = await open_client(microphone=wav)
    page = client.page
    await client.connect()
    await page.get_by_label("Message").fill("What's on the menu?")
    await page.get_by_role("button", name="Send").click()
    # Start talking while the answer plays.
    await client.wait_until("vg.playing && vg.playedMs > 200", timeout=15)
    await page.get_by_role("button", name="Start microphone").click()
    played_at_mic = await client.debug("playedMs")

    started = await client.wait_for_event("input_audio_buffer.speech_started", timeout=10)
    assert started
    truncate = await client.wait_for_event("conversation.item.truncate", "out", timeout=5)
    truncated = await client.wait_for_event("conversation.item.truncated", timeout=5)
    assert truncated["item_id"] == truncate["item_id"]
    assert truncated["audio_end_ms"] == truncate["audio_end_ms"]
    assert truncate["content_index"] == 0

    [cut] = await client.debug("truncations")
    assert cut["itemId"] == truncate["item_id"]
    # The speech starts 1 s into the microphone's audio: the cut falls about a second after it opened,
    # and well before the end of the answer the page had received.
    assert played_at_mic + 700 <= truncate["audio_end_ms"] <= played_at_mic + 3000
    assert truncate["audio_end_ms"] < cut["receivedMs"] - 300
    answer = page.locator(".turn.assistant").first
    await expect(answer).to_have_class(re.compile(r"\binterrupted\b"))

    # Playback of the answer stopped at the cut: none of the rest of it is ever heard.
    heard = (await client.debug("items"))[cut["itemId"]]["heardMs"]
    assert heard == pytest.approx(truncate["audio_end_ms"], abs=1)
    await page.wait_for_timeout(500)
    assert (await client.debug("items"))[cut["itemId"]]["heardMs"] == heard

    # The conversation goes on: the agent answers what it heard, and that answer plays.
    await expect(page.locator(".turn.user")).to_have_count(2, timeout=10_000)
    reply = page.locator(".turn.assistant").nth(1)
    await expect(reply).to_contain_text("You're welcome", timeout=15_000)
    await client.wait_until(f"vg.playing && vg.playedMs > {truncate['audio_end_ms']} + 300", timeout=10)
    await _screenshot(client, tmp_path)


async def _screenshot(client: ClientPage, tmp_path: Path) -> None:
    """A picture of the page after a conversation; VOXGATE_UPDATE_SCREENSHOT=1 refreshes docs/client.png."""
    shot = tmp_path / "client.png"
    await client.page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("VOXGATE_UPDATE_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_SCREENSHOT)
