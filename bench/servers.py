"""uvicorn (uvloop + httptools) against granian, one and two workers, on the booking path.

Each configuration serves the same app (backend.http.app:create_app) on a fresh scratch database;
`--clients` keep-alive clients book distinct free slots for `--seconds`. Prints bookings/s,
p50/p99 and the statuses per configuration.

Usage: python -m bench.servers [--clients 100] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day

import asyncpg

from backend.facilities.slots import TOKYO
from bench.http_load import Connection
from bench.services import drop_database, percentile, raise_fd_limit, scratch_database
from tests.processes import free_port, wait_for_port
from tests.sessions import mint_sessions

SERVERS = {
    "uvicorn": "uvicorn --factory backend.http.app:create_app --loop uvloop --http httptools --no-proxy-headers "
    "--log-level warning --port {port} --workers {workers}",
    "granian": "granian --interface asgi --factory backend.http.app:create_app --loop uvloop --http 1 --no-ws "
    "--log-level warning --port {port} --workers {workers}",
}


async def setup(url: str, clients: int) -> tuple[list[str], list[int]]:
    """`clients` residents with a session each, and one free resource per client."""
    conn = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        org = await conn.fetchval(
            "INSERT INTO organizations (kind, name, municipality_id, created_at)"
            " VALUES ('municipality', 'bench', 1, $1) RETURNING id",
            now,
        )
        facility = await conn.fetchval(
            "INSERT INTO facilities (organization_id, municipality_id, name, kind, address, lat, lon, created_at)"
            " VALUES ($1, 1, 'bench gym', 'gym', 'somewhere', 36.3, 140.4, $2) RETURNING id",
            org,
            now,
        )
        resources = [
            await conn.fetchval(
                "INSERT INTO resources (facility_id, name, unit_minutes, opens_at, closes_at, fee_per_unit,"
                " cancel_deadline_hours, payment_deadline_hours, pay_at_counter, waitlist_hold_minutes,"
                " lottery_only, created_at)"
                " VALUES ($1, $2, 60, '09:00', '21:00', 0, 24, 72, false, 30, false, $3) RETURNING id",
                facility,
                f"court {n}",
                now,
            )
            for n in range(clients)
        ]
        accounts = [
            await conn.fetchval(
                # Verified, like anyone who books (booking needs a verified e-mail).
                "INSERT INTO accounts (email, password_hash, display_name, locale, created_at, email_verified_at)"
                " VALUES ($1, 'x', 'bench', 'ja', $2, $2) RETURNING id",
                f"bench{n}@example.jp",
                now,
            )
            for n in range(clients)
        ]
        return await mint_sessions(conn, accounts), resources
    finally:
        await conn.close()


async def load(port: int, tokens: list[str], resources: list[int], seconds: float, first_day: int) -> None:
    deadline = time.perf_counter() + seconds

    async def one_client(token: str, resource_id: int) -> list[tuple[int, float]]:
        client = Connection("127.0.0.1", port)
        results = []
        n = 0
        while time.perf_counter() < deadline:
            day = datetime.now(TOKYO).date() + timedelta(days=first_day + n // 12)
            start = datetime.combine(day, time_of_day(9 + n % 12), TOKYO)
            body = {
                "resourceId": resource_id,
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            }
            began = time.perf_counter()
            status, _ = await client.request("POST", "/v1/bookings", body, {"Authorization": f"Bearer {token}"})
            results.append((status, time.perf_counter() - began))
            n += 1
        client.close()
        return results

    started = time.perf_counter()
    batches = await asyncio.gather(*(one_client(t, r) for t, r in zip(tokens, resources, strict=True)))
    elapsed = time.perf_counter() - started
    outcomes = [o for batch in batches for o in batch]
    latencies = [latency for _, latency in outcomes]
    print(
        f"    {len(outcomes) / elapsed:,.0f} bookings/s, p50 {percentile(latencies, 50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 99) * 1000:.1f} ms, statuses {sorted({s for s, _ in outcomes})}",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    raise_fd_limit()
    server, url = await scratch_database()
    try:
        tokens, resources = await setup(url, args.clients)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": "memory://",
            "MUSUBI_SECRET_KEY": "bench",
            "MUSUBI_LOG_LEVEL": "WARNING",
        }
        first_day = 30
        for name, command in SERVERS.items():
            for workers in (1, 2):
                port = free_port()
                line = command.format(port=port, workers=workers).split()
                process = subprocess.Popen([sys.executable, "-m", *line], env=env, stdout=subprocess.DEVNULL)  # noqa: ASYNC220

                try:
                    await wait_for_port(port, process=process)
                    await asyncio.sleep(1)  # every worker up
                    print(f"{name}, {workers} worker(s):", flush=True)
                    await load(port, tokens, resources, args.seconds, first_day)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                first_day += 60
    finally:
        await drop_database(server, url)


if __name__ == "__main__":
    asyncio.run(main())
