"""Soak: a mixed load for --minutes (default 10), printing throughput, p99, errors and RSS as it goes.

Load: vacancy searches and bookings by residents, EMS cases sent to hospitals by paramedics,
and ER websocket clients receiving the requests through the gateway. API, gateway and relay run
as their own processes on the ibaraki data set; memory should level off, not climb.

Usage: python -m bench.soak [--minutes 10] [--report-every 30] [--desks 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from collections import defaultdict
from datetime import datetime, timedelta
from datetime import time as time_of_day

import asyncpg
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from backend.facilities.slots import TOKYO
from backend.seeds.seed_scale import seed_ibaraki
from bench.booking import sessions_for
from bench.ems_latency import prepare
from bench.http_load import Connection
from bench.services import (
    bench_redis,
    percentile,
    raise_fd_limit,
    rss_bytes,
    scratch_database,
    start_musubi,
    stop_everything,
)
from realtime.tickets import TicketClaims, new_ticket_id, sign_ticket
from tests.processes import free_port, wait_for_port

KINDS = ("gym", "court", "meeting_room", "pool", "field", "hall", "studio")


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.events = 0

    def record(self, operation: str, status: int, seconds: float) -> None:
        self.latencies[operation].append(seconds)
        if status >= 500 or status <= 0:
            self.errors[operation] += 1


def p99(window: Stats, name: str) -> str:
    values = window.latencies.get(name, [])
    return f"{percentile(values, 99) * 1000:.0f} ms" if values else "-"


async def timed(
    stats: Stats, name: str, connection: Connection, method: str, path: str, body: object, headers: dict[str, str]
) -> tuple[int, bytes]:
    started = time.perf_counter()
    try:
        status, payload = await connection.request(method, path, body, headers)
    except (OSError, asyncio.IncompleteReadError):
        status, payload = -1, b""
        connection.close()
    stats.record(name, status, time.perf_counter() - started)
    return status, payload


async def resident_loop(
    port: int, token: str, resources: list[int], municipalities: list[int], stop: float, box: list[Stats]
) -> None:
    api = Connection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(token)
    today = datetime.now(TOKYO).date()
    while time.monotonic() < stop:
        day = today + timedelta(days=rng.randrange(1, 150))
        query = f"date={day}&municipalityId={rng.choice(municipalities)}&kind={rng.choice(KINDS)}"
        await timed(box[0], "search", api, "GET", f"/v1/vacancies?{query}", None, {})
        start = datetime.combine(day, time_of_day(rng.randrange(9, 20)), TOKYO)
        body = {
            "resourceId": rng.choice(resources),
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }
        await timed(box[0], "book", api, "POST", "/v1/bookings", body, headers)
    api.close()


async def paramedic_loop(port: int, token: str, hospitals: list[int], stop: float, box: list[Stats]) -> None:
    api = Connection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)
    case_body = {"estimatedAge": 70, "sex": "male", "chiefComplaint": "chest pain", "jcs": "I-1"}
    while time.monotonic() < stop:
        status, payload = await timed(box[0], "ems_case", api, "POST", "/v1/ems/cases", case_body, headers)
        if status == 201:
            case_id = msgspec.json.decode(payload)["id"]
            targets = {"hospitalIds": rng.sample(hospitals, 5)}
            await timed(box[0], "ems_send", api, "POST", f"/v1/ems/cases/{case_id}/requests", targets, headers)
        await asyncio.sleep(0.2)
    api.close()


async def desk(gateway_port: int, secret: bytes, hospital_id: int, box: list[Stats]) -> ClientConnection:
    claims = TicketClaims(
        sub=hospital_id,
        sid=0,
        jti=new_ticket_id(),
        topics=(f"hospital:{hospital_id}",),
        since=(0,),
        exp=int(time.time()) + 86_400,
        iat=0,
    )
    ws = await connect(f"ws://127.0.0.1:{gateway_port}/?ticket={sign_ticket(secret, claims)}&after=0", compression=None)

    async def read() -> None:
        async for _ in ws:
            box[0].events += 1

    asyncio.get_running_loop().create_task(read())
    return ws


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--report-every", type=float, default=30)
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--desks", type=int, default=200)
    args = parser.parse_args()
    raise_fd_limit()
    server, database_url = await scratch_database()
    print("loading the ibaraki data set …", flush=True)
    await seed_ibaraki(database_url, progress=lambda *_: None)
    redis_url, redis = await bench_redis()
    secret = secrets.token_urlsafe(32)
    api_port, gateway_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "MUSUBI_SECRET_KEY": secret}
    processes = {
        "api": start_musubi("serve", {**env, "MUSUBI_PORT": str(api_port)}),
        "gateway": start_musubi("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(gateway_port)}),
        "relay": start_musubi("relay", env),
    }
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert db is not None
    sockets: list[ClientConnection] = []
    try:
        paramedic_token, hospitals = await prepare(db, args.desks)
        tokens = await sessions_for(db, args.residents)
        resources = [r["id"] for r in await db.fetch("SELECT id FROM resources WHERE NOT lottery_only")]
        municipalities = [r["id"] for r in await db.fetch("SELECT DISTINCT municipality_id AS id FROM facilities")]
        await wait_for_port(api_port)
        await wait_for_port(gateway_port)
        box = [Stats()]
        sockets = [await desk(gateway_port, secret.encode(), h, box) for h in hospitals]
        stop = time.monotonic() + args.minutes * 60
        workers = [
            asyncio.create_task(resident_loop(api_port, t, resources, municipalities, stop, box)) for t in tokens
        ]
        workers.append(asyncio.create_task(paramedic_loop(api_port, paramedic_token, hospitals, stop, box)))
        started = time.monotonic()
        print(f"{'t':>5}  {'req/s':>7}  {'search p99':>10}  {'book p99':>9}  {'ems p99':>8}  {'errors':>6}  "
              f"{'events':>7}  {'api MiB':>7}  {'gw MiB':>6}  {'relay MiB':>9}", flush=True)  # fmt: skip
        last = time.monotonic()
        while time.monotonic() < stop:
            await asyncio.sleep(min(args.report_every, max(0.1, stop - time.monotonic())))
            window, box[0] = box[0], Stats()
            elapsed, last = time.monotonic() - last, time.monotonic()
            requests = sum(len(v) for v in window.latencies.values())
            rss = {name: rss_bytes(p.pid) / 2**20 for name, p in processes.items()}
            print(
                f"{time.monotonic() - started:5.0f}  {requests / elapsed:7.0f}  {p99(window, 'search'):>10}  "
                f"{p99(window, 'book'):>9}  {p99(window, 'ems_send'):>8}  {sum(window.errors.values()):6d}  "
                f"{window.events:7d}  {rss['api']:7.1f}  {rss['gateway']:6.1f}  {rss['relay']:9.1f}",
                flush=True,
            )
        await asyncio.gather(*workers)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await db.close()
        await stop_everything(processes.values(), redis, server, database_url)


if __name__ == "__main__":
    asyncio.run(main())
