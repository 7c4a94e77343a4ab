"""EMS fan-out latency: from the paramedic's POST to the moment every targeted ER desk has it.

1,000 ER clients (one per hospital) are connected to the gateway. Each round a paramedic
opens a case and sends it to 10 hospitals with one POST /v1/ems/cases/{id}/requests; the
figure is the time until the last of the 10 targeted websockets has its
`ems.request.created`. The API, relay and gateway run as their own processes.

Usage: python -m bench.ems_latency [--clients 1000] [--targets 10] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
from datetime import UTC, datetime

import asyncpg
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from bench.http_load import Connection
from bench.services import bench_redis, percentile, raise_fd_limit, scratch_database, start_musubi, stop_everything
from realtime.tickets import TicketClaims, new_ticket_id, sign_ticket
from tests.processes import free_port, wait_for_port
from tests.sessions import mint_session


class Received(msgspec.Struct):
    id: int
    topic: str
    type: str
    data: dict[str, int | str]


_decode = msgspec.json.Decoder(Received)


async def prepare(db: asyncpg.Pool, hospitals: int) -> tuple[str, list[int]]:
    """A paramedic's bearer token and `hospitals` hospital ids, written as the system would."""
    now = datetime.now(UTC)
    async with db.acquire() as conn, conn.transaction():
        fire = await conn.fetchval(
            "INSERT INTO organizations (kind, name, municipality_id, created_at)"
            " VALUES ('fire_department', 'Bench FD', 1, $1) RETURNING id",
            now,
        )
        await conn.copy_records_to_table(
            "organizations",
            records=[("hospital", f"Bench hospital {n}", 1 + n % 44, now) for n in range(hospitals)],
            columns=["kind", "name", "municipality_id", "created_at"],
        )
        hospital_ids = [r["id"] for r in await conn.fetch("SELECT id FROM organizations WHERE kind = 'hospital'")]
        paramedic = await conn.fetchval(
            "INSERT INTO accounts (email, password_hash, display_name, created_at)"
            " VALUES ('bench-paramedic@example.jp', '!', 'Paramedic', $1) RETURNING id",
            now,
        )
        await conn.execute(
            "INSERT INTO memberships (organization_id, account_id, role, created_at) VALUES ($1, $2, 'paramedic', $3)",
            fire,
            paramedic,
            now,
        )
        token = await mint_session(conn, paramedic)
    return token, hospital_ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    raise_fd_limit()
    server, database_url = await scratch_database()
    redis_url, redis = await bench_redis()
    secret = secrets.token_urlsafe(32)
    api_port, gateway_port = free_port(), free_port()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "MUSUBI_SECRET_KEY": secret}
    processes = [
        start_musubi("serve", {**env, "MUSUBI_PORT": str(api_port)}),
        start_musubi("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(gateway_port)}),
        start_musubi("relay", env),
    ]
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    sockets: list[ClientConnection] = []
    try:
        token, hospitals = await prepare(db, args.clients)
        await wait_for_port(api_port)
        await wait_for_port(gateway_port)
        arrivals: dict[int, asyncio.Future[float]] = {}  # request id → arrival time at its hospital's desk

        async def desk(hospital_id: int) -> None:
            claims = TicketClaims(
                sub=hospital_id,
                sid=0,
                jti=new_ticket_id(),
                topics=(f"hospital:{hospital_id}",),
                since=(0,),
                exp=int(time.time()) + 3600,
                iat=0,
            )
            ws = await connect(
                f"ws://127.0.0.1:{gateway_port}/?ticket={sign_ticket(secret.encode(), claims)}&after=0",
                compression=None,
                open_timeout=60,
            )
            sockets.append(ws)
            async for raw in ws:
                if isinstance(raw, str) and raw.startswith('{"id"'):
                    event = _decode.decode(raw)
                    # The event may beat the HTTP response to this process: whoever comes first makes the future.
                    request_id = int(event.data["requestId"])
                    waiter = arrivals.setdefault(request_id, asyncio.get_running_loop().create_future())
                    if not waiter.done():
                        waiter.set_result(time.perf_counter())

        readers = []
        for start in range(0, len(hospitals), 250):
            readers += [asyncio.create_task(desk(h)) for h in hospitals[start : start + 250]]
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)
        print(f"{len(sockets)} ER clients connected")

        api = Connection("127.0.0.1", api_port)
        headers = {"Authorization": f"Bearer {token}"}
        case_body = {"estimatedAge": 64, "sex": "female", "chiefComplaint": "意識障害", "jcs": "II-10"}
        rng = random.Random(3)
        latencies = []
        for n in range(args.rounds):
            status, body = await api.request("POST", "/v1/ems/cases", case_body, headers)
            assert status == 201, body
            case_id = msgspec.json.decode(body)["id"]
            targets = rng.sample(hospitals, args.targets)
            started = time.perf_counter()
            status, body = await api.request(
                "POST", f"/v1/ems/cases/{case_id}/requests", {"hospitalIds": targets}, headers
            )
            assert status == 201, body
            futures = []
            loop = asyncio.get_running_loop()
            for request in msgspec.json.decode(body):
                future = arrivals.setdefault(request["requestId"], loop.create_future())
                futures.append(future)
            done = await asyncio.wait_for(asyncio.gather(*futures), 10)
            latencies.append(max(done) - started)
            if (n + 1) % 50 == 0:
                print(f"  round {n + 1}/{args.rounds}", flush=True)
        print(
            f"POST → all {args.targets} targeted ER clients (of {len(sockets)} connected): "
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
            f"max {max(latencies) * 1000:.1f} ms over {args.rounds} cases"
        )
        for task in readers:
            task.cancel()
        api.close()
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await db.close()
        await stop_everything(processes, redis, server, database_url)


if __name__ == "__main__":
    asyncio.run(main())
