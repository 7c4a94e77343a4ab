"""Realtime fan-out through the real path: outbox INSERT → relay → Redis → gateway → websockets.

For each N in --clients it connects N websocket clients to one gateway process and prints:
  - gateway RSS per idle connection;
  - broadcast: one event to all N clients, p50/p99 from the INSERT to each client, and
    deliveries/s for a burst;
  - unicast: one event to one client, p50/p99 from the INSERT (commit included) to the client;
and once: raw Redis PUBLISH→SUBSCRIBE latency and the unicast/raw p99 ratio.

Usage: python -m bench.realtime_fanout [--clients 1000,5000,10000] [--broadcasts 20] [--unicasts 200]
Uses DATABASE_URL / REDIS_URL when set, otherwise starts an embedded PostgreSQL and a redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time

import asyncpg
import msgspec
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect

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

BROADCAST_TOPIC = "bench:all"


class Received(msgspec.Struct):
    id: int
    topic: str
    data: dict[str, float]


class Client:
    def __init__(self, index: int) -> None:
        self.index = index
        self.ws: ClientConnection | None = None
        self.latencies: list[float] = []
        self.count = 0
        self.got = asyncio.Event()


_decode = msgspec.json.Decoder(Received)


async def read_forever(client: Client) -> None:
    assert client.ws is not None
    async for raw in client.ws:
        if raw.startswith(b'{"id"') if isinstance(raw, bytes) else raw.startswith('{"id"'):
            event = _decode.decode(raw)
            client.latencies.append(time.time() - event.data["t"])
            client.count += 1
            client.got.set()


async def connect_clients(url: str, secret: bytes, first: int, count: int) -> list[Client]:
    expires = int(time.time()) + 3600
    clients = [Client(i) for i in range(first, first + count)]

    async def open_one(client: Client) -> None:
        topics = (BROADCAST_TOPIC, f"bench:c{client.index}")
        ticket = sign_ticket(
            secret,
            TicketClaims(
                sub=client.index,
                sid=0,
                jti=new_ticket_id(),
                topics=topics,
                since=(0,) * len(topics),
                exp=expires,
                iat=0,
            ),
        )
        client.ws = await connect(f"{url}?ticket={ticket}&after=0", open_timeout=60, compression=None, max_size=2**16)

    for start in range(0, count, 250):
        await asyncio.gather(*(open_one(c) for c in clients[start : start + 250]))
        print(f"\r  connected {first + min(start + 250, count)} clients", end="", flush=True)
    print()
    return clients


async def insert_event(db: asyncpg.Pool, topic: str) -> None:
    await db.execute(
        "INSERT INTO outbox (topic, type, payload, created_at) VALUES ($1, 'bench.tick', $2, now())",
        topic,
        msgspec.json.encode({"t": time.time()}).decode(),
    )


async def raw_redis_latency(url: str, samples: int) -> list[float]:
    subscriber = aioredis.Redis.from_url(url)
    publisher = aioredis.Redis.from_url(url)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("bench:raw")
    latencies = []
    for _ in range(samples):
        sent = time.time()
        await publisher.publish("bench:raw", str(sent))
        while True:
            message = await pubsub.get_message(timeout=5)
            if message is not None:
                latencies.append(time.time() - float(message["data"]))
                break
    await pubsub.aclose()
    await subscriber.aclose()
    await publisher.aclose()
    return latencies


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1000,5000,10000")
    parser.add_argument("--broadcasts", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--unicasts", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(n) for n in args.clients.split(",")]
    print(f"file descriptor limit raised to {raise_fd_limit()}")

    server, database_url = await scratch_database()
    redis_url, redis = await bench_redis()
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "MUSUBI_SECRET_KEY": secret}
    gateway = start_musubi("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(port)})
    relay = start_musubi("relay", env)
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    try:
        await wait_for_port(port)
        await asyncio.sleep(1.0)
        url = f"ws://127.0.0.1:{port}/"
        raw = await raw_redis_latency(redis_url, 1000)
        print(f"raw Redis PUBLISH→SUBSCRIBE: p50 {ms(percentile(raw, 50))}  p99 {ms(percentile(raw, 99))}")

        clients: list[Client] = []
        readers: list[asyncio.Task[None]] = []
        baseline = rss_bytes(gateway.pid)
        print(f"gateway RSS with no connections: {baseline / 2**20:.1f} MiB")
        unicast_p99 = None
        for size in sizes:
            print(f"\n== {size} clients ==")
            added = await connect_clients(url, secret.encode(), len(clients), size - len(clients))
            clients.extend(added)
            readers.extend(asyncio.create_task(read_forever(c)) for c in added)
            await asyncio.sleep(2.0)
            rss = rss_bytes(gateway.pid)
            print(f"gateway RSS {rss / 2**20:.1f} MiB → {(rss - baseline) / size / 1024:.1f} KiB per idle connection")

            for c in clients:
                c.latencies.clear()
            for n in range(args.broadcasts):
                expected = [c.count + 1 for c in clients]
                await insert_event(db, BROADCAST_TOPIC)
                async with asyncio.timeout(30):
                    while any(c.count < e for c, e in zip(clients, expected, strict=True)):
                        await asyncio.sleep(0.002)
                print(f"\r  broadcast {n + 1}/{args.broadcasts}", end="", flush=True)
            latencies = [v for c in clients for v in c.latencies]
            print(f"\r  broadcast to {size}: p50 {ms(percentile(latencies, 50))}  p99 {ms(percentile(latencies, 99))}")

            expected = [c.count + args.burst for c in clients]
            started = time.time()
            for _ in range(args.burst):
                await insert_event(db, BROADCAST_TOPIC)
            async with asyncio.timeout(120):
                while any(c.count < e for c, e in zip(clients, expected, strict=True)):
                    await asyncio.sleep(0.005)
            elapsed = time.time() - started
            print(
                f"  burst of {args.burst} events to {size}: {args.burst / elapsed:.0f} events/s, "
                f"{args.burst * size / elapsed:,.0f} deliveries/s"
            )

            unicast = []
            for n in range(args.unicasts):
                target = clients[n % len(clients)]
                target.latencies.clear()
                target.got.clear()
                await insert_event(db, f"bench:c{target.index}")
                await asyncio.wait_for(target.got.wait(), 10)
                unicast.append(target.latencies[-1])
            unicast_p99 = percentile(unicast, 99)
            print(f"  one event to one subscriber: p50 {ms(percentile(unicast, 50))}  p99 {ms(unicast_p99)}")
        if unicast_p99 is not None:
            print(f"\nunicast p99 / raw Redis p99 = {unicast_p99 / percentile(raw, 99):.1f}×")
        for task in readers:
            task.cancel()
        await asyncio.gather(*(c.ws.close() for c in clients if c.ws), return_exceptions=True)
    finally:
        await db.close()
        await stop_everything((gateway, relay), redis, server, database_url)


if __name__ == "__main__":
    asyncio.run(main())
