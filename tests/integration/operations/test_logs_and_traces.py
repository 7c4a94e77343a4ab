"""JSON log lines without personal data, the trace id in problem+json, and OTLP traces of a booking."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from backend.core.settings import Settings
from tests.integration.facilities.conftest import make_venue
from tests.integration.operations.otlp_receiver import OtlpReceiver
from tests.processes import MusubiProcess, RedisServer, free_port, musubi_env
from tests.support import PASSWORD, Actors


@pytest.fixture
async def otlp() -> AsyncIterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


async def serve(env: dict[str, str], *args: str) -> MusubiProcess:
    port = free_port()
    process = MusubiProcess("serve", {**env, "MUSUBI_PORT": str(port)}, port=port, args=args)
    await process.start()
    return process


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


async def lines_once_logged(api: MusubiProcess, status: int) -> list[dict[str, object]]:
    """The process's log lines once the request answered with `status` has its line (written after
    the answer; up to 5 s)."""
    lines: list[dict[str, object]] = []
    for _ in range(100):
        lines = json_lines(api.output())
        if any(line.get("status") == status for line in lines):
            break
        await asyncio.sleep(0.05)
    return lines


async def test_api_logs_one_json_line_per_request_without_personal_data(
    database_url: str, redis_server: RedisServer, test_settings: Settings, actors: Actors
) -> None:
    env = {**musubi_env(database_url, redis_server.url, test_settings), "MUSUBI_LOG_LEVEL": "INFO"}
    api = await serve(env)
    try:
        email = "hanako.logcheck@example.jp"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}") as client:
            created = await client.post(
                "/v1/accounts", json={"email": email, "password": PASSWORD, "displayName": "山田花子"}
            )
            assert created.status_code == 201, created.text
            login = await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
            token = login.json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            me = await client.get("/v1/me", headers=headers)
            assert me.status_code == 200
            # A handler open to any session (booking needs a verified address, this account has none).
            bad = await client.post("/v1/realtime/tickets", json={"topics": "nope"}, headers=headers)
            assert bad.status_code == 422, bad.text
            problem = bad.json()
        lines = await lines_once_logged(api, 422)
    finally:
        api.terminate()
    output = api.output()
    for secret in (email, PASSWORD, token, "山田花子", "hanako"):
        assert secret not in output
    requests = [line for line in lines if line.get("logger") == "musubi.http"]
    me_line = next(line for line in requests if line["route"] == "/v1/me")
    assert me_line["status"] == 200
    assert me_line["account_id"] == created.json()["id"]
    assert me_line["method"] == "GET"
    assert isinstance(me_line["duration_ms"], float)
    assert me_line["request_id"]
    [failed] = [line for line in requests if line["status"] == 422]
    assert failed["route"] == "/v1/realtime/tickets"
    # The id a user can quote from an error answer finds its log line.
    assert problem["traceId"] == failed["trace_id"]


async def test_worker_processes_log_one_line_per_request_and_no_concrete_path(
    database_url: str, redis_server: RedisServer, test_settings: Settings
) -> None:
    """`serve --workers 2`, as production runs: uvicorn's own access line (client address, the path
    as sent with its query string) used to come back in every worker beside ours, and a secret in a
    URL (a calendar feed's token) went into the log."""
    env = {**musubi_env(database_url, redis_server.url, test_settings), "MUSUBI_LOG_LEVEL": "INFO"}
    api = await serve(env, "--workers", "2")
    feed_token, email = "feedtoken0secret0for0the0log0test", "hanako.query@example.jp"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}") as client:
            feed = await client.get(f"/v1/calendar/{feed_token}.ics", params={"who": email})
            assert feed.status_code == 404, feed.text
        lines = await lines_once_logged(api, 404)
    finally:
        api.terminate()
    output = api.output()
    assert feed_token not in output
    assert "hanako.query" not in output  # nor the query string, encoded or not
    assert not [line for line in json_lines(output) if line.get("logger") == "uvicorn.access"]
    [line] = [line for line in lines if line.get("logger") == "musubi.http" and line.get("status") == 404]
    assert line["route"] == "/v1/calendar/{feed_file}"


async def test_problem_json_carries_the_trace_id_in_process(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/bookings", json={})
    assert response.status_code == 401
    problem = response.json()
    assert len(problem["traceId"]) == 32
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["x-request-id"] == problem["traceId"]


async def test_a_booking_is_traced_with_its_http_span_and_sql_spans(
    database_url: str,
    redis_server: RedisServer,
    test_settings: Settings,
    actors: Actors,
    http: httpx.AsyncClient,
    otlp: OtlpReceiver,
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    resident = await actors.resident()
    env = {
        **musubi_env(database_url, redis_server.url, test_settings),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    api = await serve(env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}") as client:
            booked = await client.post("/v1/bookings", json=venue.slot(2, 11), headers=resident.headers)
            assert booked.status_code == 201, booked.text
            refused = await client.post("/v1/bookings", json=venue.slot(2, 11), headers=resident.headers)
            assert refused.status_code == 409
        deadline = time.monotonic() + 60
        while True:
            spans = otlp.received()
            http_spans = [s for s in spans if s.name == "POST /v1/bookings"]
            if len(http_spans) == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    finally:
        api.terminate()
    assert len(http_spans) == 2, [s.name for s in spans]
    server_span = http_spans[0]
    assert server_span.service == "musubi-api"
    assert server_span.attributes.get("http.route") == "/v1/bookings"
    in_trace = [s for s in otlp.received() if s.trace_id == server_span.trace_id]
    sql = [s for s in in_trace if "db.system" in s.attributes or s.attributes.get("db.system.name")]
    # The booking itself is one call of the book_slot function (the INSERT runs inside PostgreSQL).
    statements = [s.attributes.get("db.statement", s.name).upper() for s in sql]
    assert any("BOOK_SLOT" in text or "INSERT" in text for text in statements), [s.name for s in in_trace]
    by_id = {s.span_id: s for s in in_trace}
    for span in sql:  # every SQL span hangs under the request's server span
        parent = span
        while parent.parent_id and parent.parent_id in by_id:
            parent = by_id[parent.parent_id]
        assert parent.span_id == server_span.span_id
    # The 409 answer names the trace that explains it.
    assert refused.json()["traceId"] in {s.trace_id for s in http_spans}
