"""Prometheus metrics of the API and the background processes.

- HTTP: requests by method, route *template* (never the concrete path: ids would make a series
  per booking) and status, and a latency histogram; Idempotency-Key replays; login throttling.
- The database pool of each process: connections in use, idle, and callers waiting.
- Push deliveries by result, and failing housekeeping steps.
- Business gauges read from PostgreSQL when `/metrics` is scraped, cached for a few seconds so
  several Prometheus servers (or a dashboard refresh) cost one set of queries: EMS requests
  unanswered by age, intake requests open by age, free shelter beds by category, bookings in the
  last minute, the outbox backlog and whether a relay holds the leader lock. Reading them from
  the database rather than counting in one process makes them right whichever replica answers,
  and still right when the relay or the worker is the thing that died.

The API serves them at `/metrics`; `musubi relay|worker|push-worker` on `MUSUBI_METRICS_PORT`
(off when unset); the gateway at `/metrics` on its own port (realtime/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import asyncpg
from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from backend.core.auth import PUBLIC
from backend.core.context import AppContext, app_context
from realtime import metrics as realtime_metrics
from realtime.relay import leader_lock_key

log = logging.getLogger("musubi.metrics")

HTTP_REQUESTS = Counter(
    "musubi_http_requests_total", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "musubi_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IDEMPOTENT_REPLAYS = Counter(
    "musubi_idempotency_replays_total", "Responses replayed for a repeated Idempotency-Key.", ["route"]
)
LOGIN_THROTTLED = Counter("musubi_login_throttled_total", "Logins refused with 429 (too many failures).")
DB_POOL = Gauge(
    "musubi_db_pool_connections",
    "asyncpg pool of this process: connections in use, idle, the pool's maximum, and callers waiting for one.",
    ["state"],
    multiprocess_mode="livesum",
)
PUSH_DELIVERIES = Counter(
    "musubi_push_deliveries_total",
    "APNs send attempts by result: sent, retry (429/5xx/no connection), unregistered (device dropped), failed.",
    ["result"],
)
SWEEP_FAILURES = Counter("musubi_sweep_step_failures_total", "Housekeeping steps that raised, by step.", ["step"])

LOGIN_ROUTE: Final = ("POST", "/v1/sessions")
_BUSINESS_TTL_S: Final = 5.0

# Age buckets (upper bounds in seconds, label) of the business gauges. EMS answers are expected in
# minutes (the alert fires at 3); shelter intake in tens of minutes to hours.
EMS_AGE_BUCKETS: Final = ((60, "0-1m"), (180, "1-3m"), (600, "3-10m"), (None, "10m+"))
INTAKE_AGE_BUCKETS: Final = ((600, "0-10m"), (3600, "10-60m"), (4 * 3600, "1-4h"), (None, "4h+"))

_PENDING_EMS = "SELECT sent_at AS since FROM ems_requests WHERE status = 'pending'"
_OPEN_INTAKE = "SELECT created_at AS since FROM intake_requests WHERE status = 'open'"
_FREE_BEDS = "SELECT category, sum(capacity - occupied)::bigint AS free FROM shelter_units GROUP BY category"
# Newest rows by primary key, so the count costs at most that many index entries however large
# the table grows (bookings has no created_at index, and needs none for this).
_RECENT_BOOKINGS = """
SELECT count(*) FROM (SELECT created_at FROM bookings ORDER BY id DESC LIMIT 10000) b
 WHERE b.created_at > $1::timestamptz - interval '1 minute'
"""
_OUTBOX_BACKLOG = "SELECT count(*) AS rows, min(created_at) AS oldest FROM outbox WHERE seq IS NULL"
_RELAY_LEADER = """
SELECT count(*) FROM pg_locks
 WHERE locktype = 'advisory' AND granted AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1
"""


# -- HTTP ------------------------------------------------------------------------------------------


class HttpMetricsMiddleware(ASGIMiddleware):
    """Counts and times every routed request. It sits outside the Idempotency-Key middleware, so a
    replay is seen with its `Idempotent-Replayed` header and the status the client got."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = 500  # what the client sees if the app dies before answering
        replayed = False

        async def observe(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                replayed = any(
                    name.lower() == b"idempotent-replayed" and value == b"true"
                    for name, value in message.get("headers", ())
                )
            await send(message)

        try:
            await next_app(scope, receive, observe)
        finally:
            method = scope.get("method", "GET")
            route = scope.get("path_template") or "unmatched"
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)
            if replayed:
                IDEMPOTENT_REPLAYS.labels(route).inc()
            if status == 429 and (method, route) == LOGIN_ROUTE:
                LOGIN_THROTTLED.inc()
            ctx = scope["app"].state.get("ctx")
            if ctx is not None:
                observe_pool(ctx)


def observe_pool(ctx: AppContext) -> None:
    size, idle = ctx.db.get_size(), ctx.db.get_idle_size()
    DB_POOL.labels("in_use").set(size - idle)
    DB_POOL.labels("idle").set(idle)
    DB_POOL.labels("max").set(ctx.db.get_max_size())
    DB_POOL.labels("waiting").set(ctx.waiting)


# -- business gauges -----------------------------------------------------------------------------------


def _by_age(since: list[datetime], now: datetime, buckets: tuple[tuple[int | None, str], ...]) -> dict[str, int]:
    counts = dict.fromkeys((label for _, label in buckets), 0)
    for moment in since:
        age = (now - moment).total_seconds()
        label = next(label for bound, label in buckets if bound is None or age < bound)
        counts[label] += 1
    return counts


@dataclass
class BusinessSnapshot:
    ems_unanswered: dict[str, int]
    ems_oldest_s: float
    intake_open: dict[str, int]
    intake_oldest_s: float
    free_beds: dict[str, int]
    bookings_last_minute: int
    outbox_backlog: int
    outbox_oldest_s: float
    relay_leader: int


@dataclass(eq=False)  # registries keep collectors in a dict: identity hashing
class BusinessGauges(Collector):
    """Reads the figures at most every few seconds; `collect()` only reports the last reading."""

    ttl_s: float = _BUSINESS_TTL_S
    snapshot: BusinessSnapshot | None = None
    read_at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, ctx: AppContext) -> None:
        async with self._lock:
            if time.monotonic() - self.read_at < self.ttl_s:
                return
            self.snapshot = await read_business_snapshot(ctx)
            self.read_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.snapshot
        if s is None:
            return
        ems = GaugeMetricFamily(
            "musubi_ems_requests_unanswered", "Hospital requests still pending, by time since sent.", labels=["age"]
        )
        for label, count in s.ems_unanswered.items():
            ems.add_metric([label], count)
        yield ems
        yield GaugeMetricFamily(
            "musubi_ems_request_oldest_unanswered_seconds",
            "Seconds since the oldest still-pending hospital request was sent (0 when none).",
            value=s.ems_oldest_s,
        )
        intake = GaugeMetricFamily(
            "musubi_intake_requests_open", "Shelter intake requests not yet placed, by age.", labels=["age"]
        )
        for label, count in s.intake_open.items():
            intake.add_metric([label], count)
        yield intake
        yield GaugeMetricFamily(
            "musubi_intake_request_oldest_open_seconds",
            "Age of the oldest open intake request.",
            value=s.intake_oldest_s,
        )
        beds = GaugeMetricFamily("musubi_shelter_beds_free", "Free shelter beds by category.", labels=["category"])
        for category, free in sorted(s.free_beds.items()):
            beds.add_metric([category], free)
        yield beds
        yield GaugeMetricFamily(
            "musubi_bookings_last_minute", "Facility bookings created in the last minute.", value=s.bookings_last_minute
        )
        yield GaugeMetricFamily(
            "musubi_outbox_backlog", "Outbox rows committed but not yet stamped by the relay.", value=s.outbox_backlog
        )
        yield GaugeMetricFamily(
            "musubi_outbox_oldest_unrelayed_seconds",
            "Age of the oldest outbox row the relay has not taken yet (0 when none).",
            value=s.outbox_oldest_s,
        )
        yield GaugeMetricFamily(
            "musubi_relay_leader_present",
            "1 when some relay holds the leader lock in PostgreSQL.",
            value=s.relay_leader,
        )


async def read_business_snapshot(ctx: AppContext) -> BusinessSnapshot:
    now = ctx.clock.now()
    high, low = leader_lock_key()
    async with ctx.acquire() as conn:
        ems = [row["since"] for row in await conn.fetch(_PENDING_EMS)]
        intake = [row["since"] for row in await conn.fetch(_OPEN_INTAKE)]
        beds = {row["category"]: row["free"] for row in await conn.fetch(_FREE_BEDS)}
        bookings = await conn.fetchval(_RECENT_BOOKINGS, now)
        backlog = await conn.fetchrow(_OUTBOX_BACKLOG)
        leader = await conn.fetchval(_RELAY_LEADER, high, low)

    def oldest(moments: list[datetime]) -> float:
        return max((now - min(moments)).total_seconds(), 0.0) if moments else 0.0

    return BusinessSnapshot(
        ems_unanswered=_by_age(ems, now, EMS_AGE_BUCKETS),
        ems_oldest_s=oldest(ems),
        intake_open=_by_age(intake, now, INTAKE_AGE_BUCKETS),
        intake_oldest_s=oldest(intake),
        free_beds=beds,
        bookings_last_minute=bookings,
        outbox_backlog=backlog["rows"],
        outbox_oldest_s=oldest([backlog["oldest"]] if backlog["oldest"] else []),
        relay_leader=min(leader, 1),
    )


@get("/metrics", access=PUBLIC, include_in_schema=False, operation_id="metrics")
async def metrics_endpoint(state: State) -> Response[bytes]:
    """Prometheus text exposition. Behind the public proxy it is not routed (deploy/nginx.conf)."""
    ctx = app_context(state)
    observe_pool(ctx)
    gauges: BusinessGauges | None = state.get("business_gauges")
    if gauges is None:
        gauges = BusinessGauges()
        state["business_gauges"] = gauges
    extra: list[Collector] = [gauges]
    try:
        await gauges.refresh(ctx)
    except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
        # The process's own series still tell the operator something; the missing business
        # gauges (absent() in the alert rules) tell the rest.
        log.warning("business gauges unavailable (%r)", exc)
        extra = []
    return Response(realtime_metrics.exposition(extra), media_type=realtime_metrics.CONTENT_TYPE)


# -- background processes --------------------------------------------------------------------------


def start_metrics_port(host: str, port: int) -> None:
    """The relay, worker and push worker have no HTTP server of their own: a small one in a thread (port 0: none)."""
    if not port:
        return
    start_http_server(port, addr=host)
    log.info("metrics on http://%s:%d/metrics", host, port)


async def observe_pool_forever(ctx: AppContext, interval_s: float = 5.0) -> None:
    """For processes without HTTP requests to piggy-back on."""
    while True:
        with contextlib.suppress(Exception):
            observe_pool(ctx)
        await asyncio.sleep(interval_s)


def record_push_result(result: str) -> None:
    PUSH_DELIVERIES.labels(result).inc()
