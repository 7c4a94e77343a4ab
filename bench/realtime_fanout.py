"""Realtime fan-out through the real path: outbox INSERT → relay → Redis → gateway → websockets.

For each N in --clients it connects N websocket clients to one gateway process and prints:
  - gateway RSS per idle connection;
  - broadcast: one event to all N clients, p50/p99 from the INSERT to each client;
  - a burst of events to all N clients: events/s and deliveries/s for the one gateway process;
  - unicast: one event to one client, p50/p99 from the INSERT (commit included) to the client;
and once: raw Redis PUBLISH→SUBSCRIBE latency and the unicast/raw p99 ratio.

The clients must not be the bottleneck, or the figures measure them instead of the gateway: they
are spread over --client-processes processes (each with its own event loop, uvloop when installed,
holding about N / processes sockets), and each socket is a bare asyncio protocol that does the
websocket handshake and then only splits frames and stamps their arrival; the JSON is decoded
after the measurement. A client's latency is its arrival time minus the `t` the INSERT wrote,
both from the same machine's clock.

Usage: python -m bench.realtime_fanout [--clients 1000,5000,10000] [--broadcasts 20] [--burst 50]
                                       [--unicasts 200] [--client-processes 4]
Uses DATABASE_URL / REDIS_URL when set, otherwise starts an embedded PostgreSQL and a redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import secrets
import time
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
import msgspec
import redis.asyncio as aioredis

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
_EVENT_PREFIX = b'{"id"'


class Received(msgspec.Struct):
    id: int
    topic: str
    data: dict[str, float]


_decode = msgspec.json.Decoder(Received)


# -- the client processes ------------------------------------------------------


class _Socket(asyncio.Protocol):
    """One websocket client reduced to what the measurement needs: frames in, arrival times kept."""

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        self.buffer = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.handshaking = True
        self.count = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data if self.buffer else data
        if self.handshaking:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(ConnectionError(buffer[: buffer.find(b"\r\n")].decode()))
                return
            self.handshaking = False
            buffer = buffer[end + 4 :]
        # Server frames are unmasked; the gateway never fragments and never sends more than 64 KiB.
        position, size = 0, len(buffer)
        while size - position >= 2:
            length = buffer[position + 1] & 0x7F
            start = position + 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if size - start < length:
                break
            opcode = buffer[position] & 0x0F
            if opcode == 1 and buffer.startswith(_EVENT_PREFIX, start):
                self.count += 1
                self.worker.arrived(now, buffer[start : start + length])
            elif opcode == 1 and not self.upgraded.done():
                self.upgraded.set_result(None)  # the welcome: the gateway has claimed the ticket
            elif opcode == 8:
                self.closed = True
                if not self.upgraded.done():
                    self.upgraded.set_exception(ConnectionError("closed before the welcome"))
            position = start + length
        self.buffer = buffer[position:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))


class _Worker:
    def __init__(self) -> None:
        self.sockets: dict[int, _Socket] = {}
        self.total = 0
        self.samples: list[tuple[float, bytes]] = []
        self.target = 0
        self.reached: asyncio.Future[None] | None = None

    def arrived(self, now: float, payload: bytes) -> None:
        self.total += 1
        self.samples.append((now, payload))
        if self.reached is not None and self.total >= self.target and not self.reached.done():
            self.reached.set_result(None)

    async def connect(self, host: str, port: int, secret: bytes, indexes: list[int], after: int) -> int:
        loop = asyncio.get_running_loop()
        expires = int(time.time()) + 3600

        async def open_one(index: int) -> None:
            topics = (BROADCAST_TOPIC, f"bench:c{index}")
            ticket = sign_ticket(
                secret,
                TicketClaims(
                    sub=index,
                    sid=0,
                    jti=new_ticket_id(),
                    topics=topics,
                    since=(0,) * len(topics),
                    exp=expires,
                    iat=0,
                ),
            )
            _, socket = await loop.create_connection(lambda: _Socket(self), host, port)
            key = base64.b64encode(os.urandom(16)).decode()
            socket.transport.write(  # type: ignore[attr-defined]
                f"GET /?ticket={ticket}&after={after} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await asyncio.wait_for(socket.upgraded, 60)
            self.sockets[index] = socket

        # A few sockets at a time per process, each until its welcome: the gateway claims every
        # ticket on Redis after the upgrade, and its Redis client refuses connections beyond its
        # pool of 100 (the socket then closes with 1013).
        for start in range(0, len(indexes), 10):
            await asyncio.gather(*(open_one(i) for i in indexes[start : start + 10]))
        return len(self.sockets)

    async def wait_for(self, target: int, within_s: float) -> list[float]:
        """Waits until `target` events have arrived in this process; the latencies since the last call."""
        self.target = target
        if self.total < target:
            self.reached = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.reached, within_s)
            finally:
                self.reached = None
        samples, self.samples = self.samples, []
        return [now - _decode.decode(payload).data["t"] for now, payload in samples]

    def mark(self) -> int:
        """Forgets what arrived so far (e.g. events replayed at connect) and returns the count."""
        self.samples = []
        return self.total


def _client_process(commands: Connection) -> None:
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve_commands(commands))


async def _serve_commands(commands: Connection) -> None:
    loop = asyncio.get_running_loop()
    worker = _Worker()
    while True:
        command, *args = await loop.run_in_executor(None, commands.recv)
        try:
            if command == "connect":
                result: Any = await worker.connect(*args)
            elif command == "wait":
                result = await worker.wait_for(*args)
            elif command == "mark":
                result = worker.mark()
            elif command == "closed":
                result = sum(s.closed for s in worker.sockets.values())
            elif command == "stop":
                for socket in worker.sockets.values():
                    socket.transport.abort()  # type: ignore[attr-defined]
                commands.send(None)
                return
            else:
                raise ValueError(command)
        except Exception as exc:  # reported to the parent, which stops the run
            result = exc
        commands.send(result)


class ClientProcesses:
    """The parent's handle on the client processes; client i lives in process i % len(processes)."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_client_process, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)
        self.totals = [0] * count

    async def ask(self, which: list[int], *command: object) -> list[Any]:
        loop = asyncio.get_running_loop()

        def call(pipe: Connection) -> Any:
            pipe.send(command)
            return pipe.recv()

        results = await asyncio.gather(*(loop.run_in_executor(None, call, self.pipes[i]) for i in which))
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    @property
    def everyone(self) -> list[int]:
        return list(range(len(self.pipes)))

    def owner(self, client: int) -> int:
        return client % len(self.pipes)

    async def stop(self) -> None:
        await self.ask(self.everyone, "stop")
        for process in self.processes:
            process.join(timeout=10)


# -- the parent ------------------------------------------------------------------


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
    return f"{seconds * 1000:.1f} ms"


async def connect(workers: ClientProcesses, port: int, secret: bytes, first: int, count: int, db: asyncpg.Pool) -> None:
    """Connects clients first..first+count-1, each in its owner's process, from the current head.

    Starting at the head keeps earlier phases' events from being replayed to the new sockets.
    """
    head = await db.fetchval("SELECT coalesce(max(seq), 0) FROM outbox")
    shares: dict[int, list[int]] = {}
    for index in range(first, first + count):
        shares.setdefault(workers.owner(index), []).append(index)
    await asyncio.gather(
        *(workers.ask([w], "connect", "127.0.0.1", port, secret, indexes, head) for w, indexes in shares.items())
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1000,5000,10000")
    parser.add_argument("--broadcasts", type=int, default=20)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--unicasts", type=int, default=200)
    parser.add_argument("--client-processes", type=int, default=4)
    args = parser.parse_args()
    sizes = [int(n) for n in args.clients.split(",")]
    print(f"file descriptor limit raised to {raise_fd_limit()}")
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")

    server, database_url = await scratch_database()
    redis_url, redis = await bench_redis()
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "MUSUBI_SECRET_KEY": secret}
    gateway = start_musubi("gateway", {**env, "MUSUBI_GATEWAY_PORT": str(port)})
    relay = start_musubi("relay", env)
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    workers = ClientProcesses(args.client_processes)
    try:
        await wait_for_port(port)
        await asyncio.sleep(1.0)
        raw = await raw_redis_latency(redis_url, 1000)
        print(f"raw Redis PUBLISH→SUBSCRIBE: p50 {ms(percentile(raw, 50))}  p99 {ms(percentile(raw, 99))}")

        baseline = rss_bytes(gateway.pid)
        print(f"gateway RSS with no connections: {baseline / 2**20:.1f} MiB")
        print(f"clients in {args.client_processes} processes")
        connected = 0
        unicast_p99 = None
        for size in sizes:
            print(f"\n== {size} clients ==")
            await connect(workers, port, secret.encode(), connected, size - connected, db)
            connected = size
            await asyncio.sleep(2.0)
            if refused := sum(await workers.ask(workers.everyone, "closed")):
                raise SystemExit(f"the gateway closed {refused} sockets after their handshake; see its log")
            totals = await workers.ask(workers.everyone, "mark")
            rss = rss_bytes(gateway.pid)
            print(f"gateway RSS {rss / 2**20:.1f} MiB → {(rss - baseline) / size / 1024:.1f} KiB per idle connection")
            shares = [len(range(w, size, len(totals))) for w in workers.everyone]

            latencies: list[float] = []
            for n in range(args.broadcasts):
                totals = [t + s for t, s in zip(totals, shares, strict=True)]
                await insert_event(db, BROADCAST_TOPIC)
                for got in await asyncio.gather(*(workers.ask([w], "wait", totals[w], 30.0) for w in workers.everyone)):
                    latencies.extend(got[0])
                print(f"\r  broadcast {n + 1}/{args.broadcasts}", end="", flush=True)
            print(
                f"\r  one event to {size}: p50 {ms(percentile(latencies, 50))}  p99 {ms(percentile(latencies, 99))}"
                f"  ({len(latencies)} deliveries)"
            )

            totals = [t + s * args.burst for t, s in zip(totals, shares, strict=True)]
            started = time.time()
            for _ in range(args.burst):
                await insert_event(db, BROADCAST_TOPIC)
            await asyncio.gather(*(workers.ask([w], "wait", totals[w], 120.0) for w in workers.everyone))
            elapsed = time.time() - started
            print(
                f"  burst of {args.burst} events to {size}: {args.burst / elapsed:.0f} events/s, "
                f"{args.burst * size / elapsed:,.0f} deliveries/s by the one gateway process"
            )

            unicast = []
            for n in range(args.unicasts):
                target = n % size
                owner = workers.owner(target)
                totals[owner] += 1
                await insert_event(db, f"bench:c{target}")
                (got,) = await workers.ask([owner], "wait", totals[owner], 10.0)
                unicast.extend(got)
            unicast_p99 = percentile(unicast, 99)
            print(f"  one event to one subscriber: p50 {ms(percentile(unicast, 50))}  p99 {ms(unicast_p99)}")
            closed = sum(await workers.ask(workers.everyone, "closed"))
            if closed:
                print(f"  {closed} sockets were closed by the gateway (slow consumers?)")
        if unicast_p99 is not None:
            print(f"\nunicast p99 / raw Redis p99 = {unicast_p99 / percentile(raw, 99):.1f}×")
        print(f"load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        await workers.stop()
        await db.close()
        await stop_everything((gateway, relay), redis, server, database_url)


if __name__ == "__main__":
    asyncio.run(main())
