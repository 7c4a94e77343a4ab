"""Every process exposes Prometheus metrics, and they move with what happens."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx
from litestar import Litestar

from backend.core.clock import MovableClock
from backend.core.metrics import BusinessGauges
from backend.core.settings import Settings
from tests.cluster import Realtime
from tests.integration.ems.conftest import case_body
from tests.integration.facilities.conftest import make_venue
from tests.integration.operations.metrics_support import scrape
from tests.processes import MusubiProcess, RedisServer, free_port, musubi_env
from tests.realtime_client import next_events, open_socket, ticket_for
from tests.support import PASSWORD, Actors

BOOKINGS = {"method": "POST", "route": "/v1/bookings"}


async def test_metrics_move_after_a_booking_an_ems_request_and_a_websocket_delivery(
    http: httpx.AsyncClient, actors: Actors, realtime: Realtime, app: Litestar, base_url: str
) -> None:
    app.state["business_gauges"] = BusinessGauges(ttl_s=0)  # read the database on every scrape
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    resident = await actors.resident()
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospitals = [await actors.organization("hospital") for _ in range(2)]
    er = await actors.member("hospital", "er_staff", hospitals[0])
    ws = await open_socket(realtime.url, await ticket_for(http, er))
    gateway_metrics = f"http://127.0.0.1:{realtime.gateway.port}/metrics"
    api_before = await scrape(f"{base_url}/metrics")
    gateway_before = await scrape(gateway_metrics)

    booking = await http.post(
        "/v1/bookings", json=venue.slot(3, 10), headers={**resident.headers, "Idempotency-Key": "metrics-1"}
    )
    assert booking.status_code == 201, booking.text
    again = await http.post(
        "/v1/bookings", json=venue.slot(3, 10), headers={**resident.headers, "Idempotency-Key": "metrics-1"}
    )
    assert again.headers.get("idempotent-replayed") == "true"
    case = await http.post("/v1/ems/cases", json=case_body(), headers=paramedic.headers)
    assert case.status_code == 201, case.text
    sent = await http.post(
        f"/v1/ems/cases/{case.json()['id']}/requests", json={"hospitalIds": hospitals}, headers=paramedic.headers
    )
    assert sent.status_code == 201, sent.text
    [event] = await next_events(ws, 1)
    assert event["type"] == "ems.request.created"

    api = await scrape(f"{base_url}/metrics")
    assert api.value("musubi_http_requests_total", **BOOKINGS, status="201") == (
        api_before.value("musubi_http_requests_total", **BOOKINGS, status="201") + 2
    )
    assert api.value("musubi_http_request_duration_seconds_count", **BOOKINGS) >= 2 + api_before.value(
        "musubi_http_request_duration_seconds_count", **BOOKINGS
    )
    replays = api.value("musubi_idempotency_replays_total", route="/v1/bookings")
    assert replays == api_before.value("musubi_idempotency_replays_total", route="/v1/bookings") + 1
    # Business gauges come from the database as it is now.
    assert api.value("musubi_bookings_last_minute") == 1
    assert api.value("musubi_ems_requests_unanswered", age="0-1m") == 2
    assert api.value("musubi_ems_requests_unanswered", age="3-10m") == 0
    assert 0 <= api.value("musubi_ems_request_oldest_unanswered_seconds") < 60
    assert api.value("musubi_relay_leader_present") == 1
    assert api.has("musubi_outbox_backlog")
    assert api.value("musubi_db_pool_connections", state="max") == 30
    assert api.has("musubi_intake_requests_open")

    gateway = await scrape(gateway_metrics)
    assert (
        gateway.value("musubi_gateway_deliveries_total") >= gateway_before.value("musubi_gateway_deliveries_total") + 1
    )
    assert gateway.value("musubi_gateway_sockets") == 1
    published = gateway.value("musubi_relay_published_events_total")
    assert published >= gateway_before.value("musubi_relay_published_events_total") + 3  # booking, case, 2 requests
    assert gateway.value("musubi_relay_lag_seconds_count") >= published
    await ws.close()


async def test_unanswered_ems_request_moves_to_older_buckets_as_time_passes(
    http: httpx.AsyncClient, actors: Actors, app: Litestar, base_url: str, clock: MovableClock
) -> None:
    app.state["business_gauges"] = BusinessGauges(ttl_s=0)
    fire = await actors.organization("fire_department")
    paramedic = await actors.member("fire_department", "paramedic", fire)
    hospital = await actors.organization("hospital")
    case = await http.post("/v1/ems/cases", json=case_body(), headers=paramedic.headers)
    sent = await http.post(
        f"/v1/ems/cases/{case.json()['id']}/requests", json={"hospitalIds": [hospital]}, headers=paramedic.headers
    )
    assert sent.status_code == 201, sent.text
    clock.advance(timedelta(seconds=200))
    scraped = await scrape(f"{base_url}/metrics")
    assert scraped.value("musubi_ems_requests_unanswered", age="3-10m") == 1
    assert scraped.value("musubi_ems_requests_unanswered", age="0-1m") == 0
    assert scraped.value("musubi_ems_request_oldest_unanswered_seconds") >= 200


async def test_throttled_logins_are_counted(http: httpx.AsyncClient, actors: Actors, base_url: str) -> None:
    person = await actors.resident()
    before = (await scrape(f"{base_url}/metrics")).value("musubi_login_throttled_total")
    statuses = [
        (await http.post("/v1/sessions", json={"email": person.email, "password": PASSWORD + "x"})).status_code
        for _ in range(12)
    ]
    assert 429 in statuses
    after = (await scrape(f"{base_url}/metrics")).value("musubi_login_throttled_total")
    assert after == before + statuses.count(429)


async def test_relay_process_serves_metrics_on_its_port(
    database_url: str, redis_server: RedisServer, test_settings: Settings, db: asyncpg.Pool
) -> None:
    port = free_port()
    env = {**musubi_env(database_url, redis_server.url, test_settings), "MUSUBI_METRICS_PORT": str(port)}
    relay = MusubiProcess("relay", env, port=port)
    await relay.start()
    try:
        for _ in range(200):
            scraped = await scrape(f"http://127.0.0.1:{port}/metrics")
            if scraped.value("musubi_relay_is_leader") == 1:
                break
            await asyncio.sleep(0.1)
        assert scraped.value("musubi_relay_is_leader") == 1
        assert scraped.has("musubi_relay_published_events_total")
    finally:
        relay.terminate()
