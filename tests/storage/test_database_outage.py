"""The database stops in the middle of a session and comes back later: no event is lost.

The gateway runs on a PostgreSQL cluster of the test's own (initdb and pg_ctl on a free port); the
session goes on, and ends, while the cluster is down; once it is back the writer's retries deliver
everything, in order.
"""

from __future__ import annotations

import asyncio

import pytest
from storekit import assert_stored_as_received, eventually, relayed_count, settled, stored_events
from throwaway_pg import ThrowawayCluster

from integration.conftest import GatewayFactory
from realtime_testkit import connect, transcript_of
from voxgate.store.queries import get_session

pytestmark = pytest.mark.timeout(180)

QUESTIONS = ["Hello there, who are you?", "What time do you open?", "Do you play jazz?", "Thanks, bye!"]


async def test_no_event_is_lost_while_the_database_is_down(make_gateway: GatewayFactory) -> None:
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        gateway = await make_gateway(DATABASE_URL=cluster.url)
        app = gateway.app_gateway
        client = await connect(f"{gateway.ws}/openai/realtime/outage?agent=bartender")
        await client.until("session.updated")
        answers: list[str] = []
        await client.say(QUESTIONS[0])
        answers.append(transcript_of(await client.collect_until("response.done")).strip())
        await app.writer.flush()
        written_before = app.writer.stats().written

        await asyncio.to_thread(cluster.stop)
        for question in QUESTIONS[1:]:  # the conversation goes on without the database
            await client.say(question)
            answers.append(transcript_of(await client.collect_until("response.done")).strip())
        await client.ws.close()
        await eventually(lambda: app.writer.stats().state == "retrying", limit=60)
        assert app.writer.stats().written == written_before, "nothing can be written meanwhile"

        await asyncio.to_thread(cluster.start)
        async with asyncio.timeout(120):
            await settled(app)

        (session_id,) = {e["session_id"] for e in client.received if e["type"] == "connection_established"}
        events = await stored_events(app.db, session_id)
        async with app.db() as db:
            detail = await get_session(db, session_id)
        assert detail is not None and detail.ended_at is not None
        assert [e.seq for e in events] == list(range(len(events)))
        assert relayed_count(events) == detail.events_in + detail.events_out
        assert_stored_as_received(client.received, events)
        users = [t.text for t in detail.transcript if t.role == "user"]
        assistants = [t.text for t in detail.transcript if t.role == "assistant"]
        assert users == QUESTIONS and assistants == answers
        assert len(detail.usage) == len(QUESTIONS)
        stats = app.writer.stats()
        assert stats.lost == 0 and stats.rejected == 0 and stats.retries > 0 and stats.state == "ok"
    finally:
        cluster.destroy()
