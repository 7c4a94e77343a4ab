"""Prometheus series of the realtime path (relay and gateway), and the exposition every process uses.

Every series lives in prometheus-client's default registry, so a process that runs several roles
(`musubi dev`) shows all of them on one `/metrics`. With several API workers on one port
(`musubi serve --workers N`) a scrape reaches one worker at random; there the CLI sets
`PROMETHEUS_MULTIPROC_DIR` before the workers start, every worker writes its samples to files
in it, and `exposition()` merges them (counters and histograms summed, gauges summed over live
workers) so one scrape shows the whole host.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Relay ------------------------------------------------------------------------------------------
RELAY_LEADER = Gauge(
    "musubi_relay_is_leader",
    "1 while this relay holds the leader lock and publishes, 0 while it stands by.",
    multiprocess_mode="livesum",
)
RELAY_PUBLISHED = Counter("musubi_relay_published_events_total", "Outbox events published to the bus.")
RELAY_PUBLISH_FAILURES = Counter("musubi_relay_publish_failures_total", "Failed publish attempts (bus down).")
RELAY_LAG = Histogram(
    "musubi_relay_lag_seconds",
    "Seconds from an outbox row's write to its publication on the bus.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
RELAY_LAST_LAG = Gauge(
    "musubi_relay_last_lag_seconds",
    "Lag of the newest event of the last published batch.",
    multiprocess_mode="max",
)

# Gateway ----------------------------------------------------------------------------------------
GATEWAY_SOCKETS = Gauge(
    "musubi_gateway_sockets", "Open websocket connections on this gateway.", multiprocess_mode="livesum"
)
GATEWAY_ACCEPTED = Counter("musubi_gateway_sockets_accepted_total", "Sockets whose ticket was accepted.")
GATEWAY_CLOSES = Counter(
    "musubi_gateway_socket_closes_total",
    "Closed sockets by close code (4001 bad ticket … 1012 restart, 1013 slow consumer).",
    ["code"],
)
GATEWAY_DELIVERIES = Counter("musubi_gateway_deliveries_total", "Live events written to sockets (one per socket).")
GATEWAY_REPLAYED = Counter("musubi_gateway_replayed_events_total", "Events sent from the outbox on resume.")
GATEWAY_RESUMES = Counter("musubi_gateway_resumes_total", "Sockets that resumed from a cursor.")
GATEWAY_SLOW_CLOSES = Counter(
    "musubi_gateway_slow_consumer_closes_total", "Sockets closed (1013) because they could not keep up."
)
GATEWAY_BUS_RESUBSCRIBES = Counter(
    "musubi_gateway_bus_subscriptions_total", "Bus (re)subscriptions, each followed by a catch-up from the outbox."
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text exposition of this process (or of every worker of this host), plus `extra`
    collectors computed for this scrape only (they are never summed across workers)."""
    if multiprocess_dir() is not None:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        body = generate_latest(merged)
    else:
        body = generate_latest(REGISTRY)
    extras = list(extra)
    if extras:
        once = CollectorRegistry(auto_describe=False)
        for collector in extras:
            once.register(collector)
        body += generate_latest(once)
    return body
