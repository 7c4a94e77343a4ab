"""Tickets open one socket once, die with their session, and replay nothing the caller may not see."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from backend.accounts.service import end_live_access
from backend.core.context import AppContext
from backend.core.settings import Settings
from realtime.gateway import CLOSE_ACCESS_REVOKED, CLOSE_INVALID_TICKET
from tests.cluster import Cluster, Realtime
from tests.integration.realtime.test_backpressure import gateway_on_memory_bus
from tests.processes import RedisServer
from tests.realtime_client import insert_events, next_events, open_socket, read_until_closed, silent_for, ticket_for
from tests.support import Actor, Actors


async def welcomed(ws: ClientConnection) -> dict[str, Any]:
    """The gateway's first message; raises ConnectionClosed if it refused the socket instead."""
    async with asyncio.timeout(5):
        message: dict[str, Any] = msgspec.json.decode(await ws.recv())
    assert message["type"] == "welcome", message
    return message


async def close_code(ws: ClientConnection, timeout_s: float = 5.0) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await read_until_closed(ws, timeout_s=timeout_s)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def log_out(http: httpx.AsyncClient, actor: Actor) -> None:
    response = await http.delete("/v1/sessions/current", headers=actor.headers)
    assert response.status_code == 204, response.text


async def insert_event_at(db: asyncpg.Pool, topic: str, n: int, at: datetime) -> None:
    await db.execute(
        "INSERT INTO outbox (topic, type, payload, created_at)"
        " VALUES ($1, 'test.tick', jsonb_build_object('n', $2::int), $3)",
        topic,
        n,
        at,
    )


# -- single use ------------------------------------------------------------------------------


async def test_a_ticket_opens_one_socket_even_when_raced(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime
) -> None:
    person = await actors.resident()
    ticket = await ticket_for(http, person)
    sockets = await asyncio.gather(*(open_socket(realtime.url, ticket) for _ in range(8)))
    outcomes = await asyncio.gather(*(welcomed(ws) for ws in sockets), return_exceptions=True)
    accepted = [ws for ws, outcome in zip(sockets, outcomes, strict=True) if isinstance(outcome, dict)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, ConnectionClosed)]
    assert len(accepted) == 1
    assert len(refused) == 7
    assert all(r.rcvd is not None and r.rcvd.code == CLOSE_INVALID_TICKET for r in refused)
    # Reconnecting later with the same ticket is refused too; a fresh one works.
    late = await open_socket(realtime.url, ticket)
    assert await close_code(late) == CLOSE_INVALID_TICKET
    fresh = await open_socket(realtime.url, await ticket_for(http, person))
    await welcomed(fresh)
    for ws in (*accepted, fresh):
        await ws.close()


# -- logout ------------------------------------------------------------------------------------


async def test_logout_closes_the_sessions_live_socket_and_refuses_its_unused_ticket(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    other_session = await actors.login(person.email, person.account_id)  # same account, another phone
    ws = await open_socket(realtime.url, await ticket_for(http, person))
    await welcomed(ws)
    spare = await ticket_for(http, person)  # fetched before logging out, never used
    other_ws = await open_socket(realtime.url, await ticket_for(http, other_session))
    await welcomed(other_ws)

    started = asyncio.get_running_loop().time()
    await log_out(http, person)
    assert await close_code(ws) == CLOSE_ACCESS_REVOKED
    assert asyncio.get_running_loop().time() - started < 3.0

    assert await close_code(await open_socket(realtime.url, spare)) == CLOSE_INVALID_TICKET
    # The account's other session keeps its socket, and the revocation never reached a client.
    await insert_events(db, f"user:{person.account_id}", 1)
    [event] = await next_events(other_ws, 1)
    assert event["type"] == "test.tick"
    await other_ws.close()


async def test_logout_reaches_sockets_on_every_gateway_replica(
    http: httpx.AsyncClient, actors: Actors, cluster: Cluster
) -> None:
    person = await actors.resident()
    async with httpx.AsyncClient(base_url=cluster.api_url(0)) as api:
        sockets = [await open_socket(cluster.gateway_url(i), await ticket_for(api, person)) for i in (0, 1)]
        for ws in sockets:
            await welcomed(ws)
        spare = await ticket_for(api, person)
    async with httpx.AsyncClient(base_url=cluster.api_url(1)) as api_two:
        await log_out(api_two, person)
    assert await asyncio.gather(*(close_code(ws) for ws in sockets)) == [CLOSE_ACCESS_REVOKED] * 2
    for i in (0, 1):
        assert await close_code(await open_socket(cluster.gateway_url(i), spare)) == CLOSE_INVALID_TICKET


async def test_a_gateway_started_after_the_logout_still_refuses_the_ticket(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, database_url: str, test_settings: Settings
) -> None:
    person = await actors.resident()
    spare = await ticket_for(http, person)
    await log_out(http, person)
    await asyncio.sleep(0.5)  # the relay stamps the revocation before the new gateway starts
    async with gateway_on_memory_bus(database_url, test_settings.secret) as late:
        ws = await open_socket(f"ws://127.0.0.1:{late.port}/", spare)
        assert await close_code(ws) == CLOSE_INVALID_TICKET


async def test_in_process_bus_refuses_reuse_and_closes_on_logout(
    http: httpx.AsyncClient, actors: Actors, database_url: str, test_settings: Settings
) -> None:
    async with gateway_on_memory_bus(database_url, test_settings.secret) as gateway:
        url = f"ws://127.0.0.1:{gateway.port}/"
        person = await actors.resident()
        ticket = await ticket_for(http, person)
        ws = await open_socket(url, ticket)
        await welcomed(ws)
        assert await close_code(await open_socket(url, ticket)) == CLOSE_INVALID_TICKET
        await log_out(http, person)
        assert await close_code(ws) == CLOSE_ACCESS_REVOKED


async def test_ending_an_accounts_access_closes_its_sockets_and_old_tickets_but_not_new_ones(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, ctx: AppContext, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "er_staff", hospital)
    ws = await open_socket(realtime.url, await ticket_for(http, nurse))
    await welcomed(ws)
    stale = await ticket_for(http, nurse)
    # What a membership removal does (issue 17 will call this from its endpoint).
    async with ctx.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM memberships WHERE account_id = $1", nurse.account_id)
        await end_live_access(conn, account_id=nurse.account_id, session_id=None, at=ctx.clock.now())
    assert await close_code(ws) == CLOSE_ACCESS_REVOKED
    assert await close_code(await open_socket(realtime.url, stale)) == CLOSE_INVALID_TICKET
    await asyncio.sleep(1.1)  # tickets carry whole seconds: one issued in the removal's second is refused
    fresh = await open_socket(realtime.url, await ticket_for(http, nurse))  # today's topics: user only
    assert (await welcomed(fresh))["topics"] == [f"user:{nurse.account_id}"]
    await insert_events(db, f"hospital:{hospital}", 1)
    assert await silent_for(fresh, 0.5)
    await fresh.close()


# -- what resume may replay ----------------------------------------------------------------------


async def test_resume_from_zero_replays_nothing_from_before_the_session(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    started = await db.fetchval("SELECT max(created_at) FROM sessions WHERE account_id = $1", person.account_id)
    await insert_event_at(db, topic, 1, started - timedelta(minutes=5))  # an earlier session's
    await insert_events(db, topic, 2, first=2)
    await asyncio.sleep(0.5)
    ws = await open_socket(realtime.url, await ticket_for(http, person), after=0, cursor_in_url=True)
    assert [e["data"]["n"] for e in await next_events(ws, 2)] == [2, 3]
    assert await silent_for(ws, 0.5)
    await ws.close()


async def test_resume_replays_an_organisations_events_only_from_the_callers_membership(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    hospital = await actors.organization("hospital")
    newcomer = await actors.resident()
    topic = f"hospital:{hospital}"
    await insert_events(db, topic, 2)  # after the newcomer signed in, before they joined
    await asyncio.sleep(1.5)  # floors are whole seconds
    await actors.grant(newcomer, hospital, "er_staff")
    await insert_events(db, topic, 2, first=3)
    await asyncio.sleep(0.5)
    ws = await open_socket(realtime.url, await ticket_for(http, newcomer), after=0)
    events = await next_events(ws, 2)
    assert [(e["topic"], e["data"]["n"]) for e in events] == [(topic, 3), (topic, 4)]
    assert await silent_for(ws, 0.5)
    await ws.close()


async def test_resume_replays_nothing_older_than_the_replay_window(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool, database_url: str, test_settings: Settings
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    # A long-lived session: only the window limits what it may replay.
    await db.execute(
        "UPDATE sessions SET created_at = created_at - interval '3 days' WHERE account_id = $1", person.account_id
    )
    now = datetime.now(UTC)
    await insert_event_at(db, topic, 1, now - timedelta(hours=2))
    await insert_event_at(db, topic, 2, now - timedelta(minutes=30))
    async with gateway_on_memory_bus(database_url, test_settings.secret, replay_window_s=3600) as gateway:
        await asyncio.sleep(0.5)
        ws = await open_socket(f"ws://127.0.0.1:{gateway.port}/", await ticket_for(http, person), after=0)
        assert [e["data"]["n"] for e in await next_events(ws, 1)] == [2]
        assert await silent_for(ws, 0.5)
        await ws.close()


async def test_catch_up_after_a_bus_outage_does_not_bypass_the_replay_rule(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool, redis_server: RedisServer
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    started = await db.fetchval("SELECT max(created_at) FROM sessions WHERE account_id = $1", person.account_id)
    await insert_event_at(db, topic, 1, started - timedelta(minutes=5))
    await asyncio.sleep(0.5)
    ws = await open_socket(realtime.url, await ticket_for(http, person), after=0)
    assert await silent_for(ws, 0.5)  # nothing it may replay

    redis_server.stop()
    realtime.gateway.subscribed.clear()
    await insert_events(db, topic, 1, first=2)
    await asyncio.sleep(1.0)
    await redis_server.start()
    events = await next_events(ws, 1, timeout_s=20)
    assert [e["data"]["n"] for e in events] == [2]
    assert await silent_for(ws, 0.5)
    await ws.close()
