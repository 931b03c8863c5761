"""The baseline for ``voxgate bench calls``: a bare Twilio <-> Realtime relay, the way the samples write it.

One upstream connection per Media Stream; each caller frame becomes an ``input_audio_buffer.append``
(no batching), each audio delta one Twilio ``media`` message (its payload untouched, G.711 both
ways) followed by a mark named ``item:ms:n``; ``speech_started`` sends ``clear``. No signatures,
tokens, validation, chain, records, truncation or resampling: the floor a gateway is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from voxgate.agents.profiles import SALON
from voxgate.bench import bare_relay

SESSION = orjson.dumps(
    {
        "type": "session.update",
        "session": SALON.session_config([], audio_format="audio/pcmu"),
    }
).decode()
GREETING = orjson.dumps({"type": "response.create", "response": SALON.greeting_response()}).decode()
APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'


def _b64_len(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=")


async def _from_twilio(twilio: ServerConnection, upstream: ClientConnection) -> None:
    async for raw in twilio:
        message = orjson.loads(raw)
        event = message["event"]
        if event == "media":
            await upstream.send(APPEND_HEAD + message["media"]["payload"] + '"}')
        elif event == "stop":
            return


async def _from_upstream(upstream: ClientConnection, twilio: ServerConnection, stream_sid: str) -> None:
    sid = orjson.dumps(stream_sid).decode()
    media_head = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
    mark_head = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":"'
    clear = '{"event":"clear","streamSid":' + sid + "}"
    sent: dict[str, int] = {}
    count = 0
    async for raw in upstream:
        event = orjson.loads(raw)
        kind = event["type"]
        if kind == "response.output_audio.delta":
            payload, item = event["delta"], event["item_id"]
            sent[item] = sent.get(item, 0) + _b64_len(payload)
            count += 1
            await twilio.send(media_head + payload + '"}}')
            await twilio.send(f'{mark_head}{item}:{sent[item] // 8}:{count}"}}}}')
        elif kind == "input_audio_buffer.speech_started":
            await twilio.send(clear)


def handler(upstream_url: str) -> object:
    async def handle(twilio: ServerConnection) -> None:
        stream_sid = ""
        with contextlib.suppress(ConnectionClosed):
            async for raw in twilio:
                message = orjson.loads(raw)
                if message["event"] == "start":
                    stream_sid = message["start"]["streamSid"]
                    break
        if not stream_sid:
            return
        headers = {"Authorization": "Bearer bare-phone-relay"}
        async with connect(upstream_url, additional_headers=headers, max_size=None, compression=None) as up:
            await up.send(SESSION)
            await up.send(GREETING)
            tasks = [
                asyncio.create_task(_from_twilio(twilio, up)),
                asyncio.create_task(_from_upstream(up, twilio, stream_sid)),
            ]
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return handle


def main() -> None:
    bare_relay.main(handler)


if __name__ == "__main__":
    main()
