from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.push.apns import make_apns_client
from backend.push.worker import PushWorker
from realtime.bus import MemoryBus
from realtime.relay import OutboxRelay
from tests.apns_standin import ApnsStandIn
from tests.integration.ems.conftest import open_case, send
from tests.support import Actor, Actors, assert_problem

TOPIC = "jp.musubi.app"
KEY_ID, TEAM_ID = "ABC123DEFG", "TEAM456789"


def new_token() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def standin() -> AsyncIterator[ApnsStandIn]:
    server = ApnsStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def worker(
    ctx: AppContext, standin: ApnsStandIn, signing_key: ec.EllipticCurvePrivateKey, database_url: str
) -> AsyncIterator[PushWorker]:
    """The push worker pointed at the stand-in, and a relay stamping event ids as in production."""
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client = make_apns_client(
        key_pem=pem,
        key_id=KEY_ID,
        team_id=TEAM_ID,
        topic=TOPIC,
        host="127.0.0.1",
        port=standin.port,
        ssl_context=standin.client_ssl_context(),
    )
    relay = asyncio.create_task(OutboxRelay(database_url, MemoryBus(), sweep_interval_s=0.05).run())
    yield PushWorker(ctx, client)
    relay.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await relay
    client.pool.close()


async def register(http: httpx.AsyncClient, person: Actor, locale: str = "ja") -> str:
    token = new_token()
    response = await http.post(
        "/v1/devices", json={"platform": "ios", "token": token, "locale": locale}, headers=person.headers
    )
    assert response.status_code == 201, response.text
    return token


async def deliver(worker: PushWorker, db: asyncpg.Pool) -> None:
    """Wait for the relay to publish what is committed, then plan and send once."""
    for _ in range(100):
        if not await db.fetchval("SELECT count(*) FROM outbox WHERE seq IS NULL"):
            break
        await asyncio.sleep(0.02)
    await worker.plan()
    await worker.send_due()


async def test_ems_request_pushes_to_each_er_device_with_no_patient_data(
    http: httpx.AsyncClient,
    actors: Actors,
    worker: PushWorker,
    standin: ApnsStandIn,
    db: asyncpg.Pool,
    signing_key: ec.EllipticCurvePrivateKey,
) -> None:
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospital, elsewhere = await actors.organization("hospital"), await actors.organization("hospital")
    nurses = [await actors.member("hospital", "er_staff", hospital) for _ in range(2)]
    tokens = {await register(http, nurses[0], "ja"), await register(http, nurses[1], "en")}
    await register(http, await actors.member("hospital", "er_staff", elsewhere))
    await register(http, paramedic)
    scene = type("Scene", (), {"paramedic": paramedic})
    case = await open_case(http, scene, chiefComplaint="激しい胸痛 severe chest pain", estimatedAge=81)  # type: ignore[arg-type]
    await send(http, scene, case["id"], [hospital])  # type: ignore[arg-type]

    await deliver(worker, db)
    assert {r.token for r in standin.requests} == tokens
    assert len(standin.requests) == 2
    public_key = signing_key.public_key()
    for request in standin.requests:
        assert request.headers["apns-topic"] == TOPIC
        assert request.headers["apns-push-type"] == "alert"
        assert request.headers["apns-priority"] == "10"
        assert request.headers["apns-collapse-id"].startswith("ems.request.created:")
        assert int(request.headers["apns-expiration"]) > 0
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "bearer"
        claims = jwt.decode(token, public_key, algorithms=["ES256"])
        assert claims["iss"] == TEAM_ID
        assert jwt.get_unverified_header(token)["kid"] == KEY_ID
        text = json.dumps(request.payload, ensure_ascii=False)
        for secret in ("胸痛", "chest", "81", "male"):
            assert secret not in text
        assert set(request.payload) == {"aps", "type", "ids"}
        assert request.payload["type"] == "ems.request.created"
        assert set(request.payload["ids"]) == {"requestId", "caseId"}
    bodies = {r.payload["aps"]["alert"]["body"] for r in standin.requests}
    assert bodies == {"救急搬送の受入照会が届きました", "New ambulance transport request"}
    sent = await db.fetch("SELECT status, apns_id FROM push_deliveries")
    assert [r["status"] for r in sent] == ["sent", "sent"]
    assert all(r["apns_id"] for r in sent)


async def test_bad_tokens_are_deactivated(
    http: httpx.AsyncClient, actors: Actors, worker: PushWorker, standin: ApnsStandIn, db: asyncpg.Pool
) -> None:
    person = await actors.resident()
    gone, bad = await register(http, person), await register(http, person)
    standin.answer(gone, 410)
    standin.answer(bad, 400)
    await _emit_waitlist_offer(db, person)
    await deliver(worker, db)
    rows = await db.fetch("SELECT token, deactivation_reason FROM devices ORDER BY token")
    assert {r["token"]: r["deactivation_reason"] for r in rows} == {gone: "Unregistered", bad: "BadDeviceToken"}
    statuses = await db.fetch("SELECT status, http_status FROM push_deliveries ORDER BY http_status")
    assert [(r["status"], r["http_status"]) for r in statuses] == [("unregistered", 400), ("unregistered", 410)]
    await _emit_waitlist_offer(db, person)
    await deliver(worker, db)
    assert len(standin.requests) == 2  # deactivated devices get nothing more


async def test_throttled_push_is_retried_then_succeeds(
    http: httpx.AsyncClient,
    actors: Actors,
    worker: PushWorker,
    standin: ApnsStandIn,
    db: asyncpg.Pool,
    clock: MovableClock,
) -> None:
    person = await actors.resident()
    token = await register(http, person)
    standin.answer(token, 429)
    await _emit_waitlist_offer(db, person)
    await deliver(worker, db)
    row = await db.fetchrow("SELECT status, attempts, http_status, reason FROM push_deliveries")
    assert (row["status"], row["attempts"], row["http_status"], row["reason"]) == ("pending", 1, 429, "TooManyRequests")
    assert await worker.send_due() == 0  # not before the backoff
    clock.advance(timedelta(seconds=2))
    assert await worker.send_due() == 1
    assert await db.fetchval("SELECT status FROM push_deliveries") == "sent"
    assert [r.token for r in standin.requests] == [token, token]
    assert standin.requests[0].headers["apns-id"] == standin.requests[1].headers["apns-id"]


async def test_worker_survives_apns_being_down_and_delivers_after(
    http: httpx.AsyncClient,
    actors: Actors,
    worker: PushWorker,
    standin: ApnsStandIn,
    db: asyncpg.Pool,
    clock: MovableClock,
) -> None:
    person = await actors.resident()
    await register(http, person)
    await standin.stop()
    await _emit_waitlist_offer(db, person)
    await deliver(worker, db)
    row = await db.fetchrow("SELECT status, http_status, reason FROM push_deliveries")
    assert row["status"] == "pending"
    assert row["http_status"] == 0
    await standin.start()
    for _ in range(6):  # through the backoff as the clock moves
        clock.advance(timedelta(seconds=30))
        await worker.send_due()
        if await db.fetchval("SELECT status FROM push_deliveries") == "sent":
            break
    assert await db.fetchval("SELECT status FROM push_deliveries") == "sent"
    assert len(standin.requests) == 1


async def test_device_registration(http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool) -> None:
    alice, bob = await actors.resident(), await actors.resident()
    token = new_token()
    first = await http.post("/v1/devices", json={"platform": "ios", "token": token}, headers=alice.headers)
    assert first.status_code == 201
    moved = await http.post(
        "/v1/devices", json={"platform": "ios", "token": token, "locale": "en"}, headers=bob.headers
    )
    assert moved.json()["id"] == first.json()["id"]
    assert await db.fetchval("SELECT account_id FROM devices") == bob.account_id
    assert_problem(await http.delete(f"/v1/devices/{first.json()['id']}", headers=alice.headers), 404)
    assert (await http.delete(f"/v1/devices/{first.json()['id']}", headers=bob.headers)).status_code == 204
    short = await http.post("/v1/devices", json={"platform": "ios", "token": "abc"}, headers=bob.headers)
    assert assert_problem(short, 422)["errors"][0]["field"] == "$.token"
    android = await http.post("/v1/devices", json={"platform": "android", "token": token}, headers=bob.headers)
    assert assert_problem(android, 422)["errors"][0]["field"] == "$.platform"


async def _emit_waitlist_offer(db: asyncpg.Pool, person: Actor) -> None:
    """A waitlist offer as the booking service writes it (the push worker reads only the outbox)."""
    payload = {"type": "waitlist.offered", "bookingId": 41, "resourceId": 7, "holdUntil": "2030-01-01T00:00:00+00:00"}
    await db.execute(
        "INSERT INTO outbox (topic, type, payload, created_at) VALUES ($1, 'waitlist.offered', $2::jsonb, now())",
        f"user:{person.account_id}",
        json.dumps(payload),
    )
