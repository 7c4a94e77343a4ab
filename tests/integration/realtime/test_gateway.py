from __future__ import annotations

import asyncio

import asyncpg
import httpx
import msgspec
import pytest
from websockets.exceptions import ConnectionClosed

from realtime.tickets import TicketClaims, sign_ticket, verify_ticket
from tests.cluster import Realtime
from tests.realtime_client import (
    insert_events,
    next_events,
    open_socket,
    silent_for,
    ticket_for,
)
from tests.support import Actors, assert_problem


async def test_event_committed_through_api_reaches_only_subscribed_client(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime
) -> None:
    hospital = await actors.organization("hospital")
    admin = await actors.member("hospital", "admin", hospital)
    nurse, bystander = await actors.resident(), await actors.resident()
    nurse_ws = await open_socket(realtime.url, await ticket_for(http, nurse))
    bystander_ws = await open_socket(realtime.url, await ticket_for(http, bystander))
    await asyncio.sleep(0.3)  # past the resume wait: both are live

    token = await actors.invite(admin, hospital, nurse, "er_staff")
    granted = await http.post(f"/v1/invitations/{token}/accept", headers=nurse.headers)
    assert granted.status_code == 201, granted.text
    [event] = await next_events(nurse_ws, 1)
    assert event["topic"] == f"user:{nurse.account_id}"
    assert event["type"] == "account.membership_granted"
    assert event["data"] == {"type": "account.membership_granted", "organizationId": hospital, "role": "er_staff"}
    assert await silent_for(bystander_ws, 0.5)
    await nurse_ws.close()
    await bystander_ws.close()


async def test_ticket_names_topics_from_memberships(http: httpx.AsyncClient, actors: Actors) -> None:
    hospital = await actors.organization("hospital")
    nurse = await actors.member("hospital", "er_staff", hospital)
    response = await http.post("/v1/realtime/tickets", headers=nurse.headers)
    assert response.status_code == 201
    body = response.json()
    assert body["topics"] == [f"user:{nurse.account_id}", f"hospital:{hospital}", "hospitals:board"]
    assert body["url"].startswith("ws")


async def test_ticket_refuses_topics_of_others(http: httpx.AsyncClient, actors: Actors) -> None:
    resident = await actors.resident()
    hospital = await actors.organization("hospital")
    response = await http.post(
        "/v1/realtime/tickets",
        json={"topics": ["vacancy:facility:9", f"hospital:{hospital}", "user:999999"]},
        headers=resident.headers,
    )
    problem = assert_problem(response, 403)
    assert [e["field"] for e in problem["errors"]] == ["$.topics[1]", "$.topics[2]"]
    allowed = await http.post("/v1/realtime/tickets", json={"topics": ["vacancy:facility:9"]}, headers=resident.headers)
    assert allowed.json()["topics"] == ["vacancy:facility:9"]


async def test_anonymous_caller_gets_no_ticket(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post("/v1/realtime/tickets"), 401)


async def test_resume_replays_missed_events_then_goes_live(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ticket = await ticket_for(http, person)
    ws = await open_socket(realtime.url, ticket)
    await insert_events(db, topic, 5)
    seen = await next_events(ws, 5)
    cursor = seen[2]["id"]
    await ws.close()

    await insert_events(db, topic, 5, first=6)  # committed while the client is away
    await asyncio.sleep(0.3)
    ws = await open_socket(realtime.url, await ticket_for(http, person), after=cursor)  # a ticket opens one socket
    replayed = await next_events(ws, 7)
    assert [e["data"]["n"] for e in replayed] == [4, 5, 6, 7, 8, 9, 10]
    await insert_events(db, topic, 1, first=11)
    [live] = await next_events(ws, 1)
    assert live["data"]["n"] == 11
    assert live["id"] > replayed[-1]["id"]
    assert await silent_for(ws, 0.3)
    await ws.close()


async def test_resume_cursor_in_url(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    ticket = await ticket_for(http, person)
    await insert_events(db, f"user:{person.account_id}", 3)
    await asyncio.sleep(0.3)
    ws = await open_socket(realtime.url, ticket, after=0, cursor_in_url=True)
    events = await next_events(ws, 3)
    assert [e["data"]["n"] for e in events] == [1, 2, 3]
    await ws.close()


async def test_events_arrive_in_order_without_duplicates_under_load(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ws = await open_socket(realtime.url, await ticket_for(http, person))
    await asyncio.sleep(0.3)
    # Twenty concurrent writers, committing out of insertion order.
    await asyncio.gather(*(insert_events(db, topic, 10, first=1 + 10 * w) for w in range(20)))
    events = await next_events(ws, 200)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == 200
    assert sorted(e["data"]["n"] for e in events) == list(range(1, 201))
    assert await silent_for(ws, 0.3)
    await ws.close()


@pytest.mark.parametrize("mangle", ["forged", "tampered", "garbage", "missing"])
async def test_bad_tickets_are_refused_with_4001(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, mangle: str
) -> None:
    person = await actors.resident()
    good = await ticket_for(http, person)
    version, payload, signature = good.split(".")
    claims = msgspec.json.decode(__import__("base64").urlsafe_b64decode(payload + "=="))
    if mangle == "forged":
        ticket = sign_ticket(b"not the server secret", TicketClaims(**{**claims, "topics": ("hospital:1",)}))
    elif mangle == "tampered":
        widened = sign_ticket(b"x", TicketClaims(**{**claims, "topics": ("hospital:1",)})).split(".")[1]
        ticket = f"{version}.{widened}.{signature}"
    elif mangle == "garbage":
        ticket = "v1.not-base64!.x"
    else:
        ticket = ""
    ws = await open_socket(realtime.url, ticket)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001


async def test_expired_ticket_is_refused_with_4002(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, test_settings: object
) -> None:
    person = await actors.resident()
    ticket = await ticket_for(http, person)
    claims = verify_ticket(realtime.gateway.secret, ticket, 0)
    expired = sign_ticket(
        realtime.gateway.secret,
        msgspec.structs.replace(claims, exp=claims.iat - 1, iat=claims.iat - 61),
    )
    ws = await open_socket(realtime.url, expired)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4002


async def test_redis_outage_loses_no_event(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, db: asyncpg.Pool, redis_server: object
) -> None:
    from tests.processes import RedisServer

    assert isinstance(redis_server, RedisServer)
    person = await actors.resident()
    topic = f"user:{person.account_id}"
    ws = await open_socket(realtime.url, await ticket_for(http, person))
    await asyncio.sleep(0.3)
    await insert_events(db, topic, 3)
    assert len(await next_events(ws, 3)) == 3

    redis_server.stop()
    realtime.gateway.subscribed.clear()
    await insert_events(db, topic, 5, first=4)  # committed while Redis is down
    await asyncio.sleep(1.0)
    await redis_server.start()
    events = await next_events(ws, 5, timeout_s=20)
    assert [e["data"]["n"] for e in events] == [4, 5, 6, 7, 8]
    await insert_events(db, topic, 1, first=9)
    [after] = await next_events(ws, 1, timeout_s=10)
    assert after["data"]["n"] == 9
    assert await silent_for(ws, 0.5)
    await ws.close()
