"""The outbox relay: committed outbox rows → the bus, in order, at least once.

One relay process at a time is the leader (a session advisory lock on its own connection);
others wait as standbys and take over when the leader's connection ends. The leader stamps
committed rows with the next `seq` (the event id clients see) in one statement, then
publishes them. A writer's NOTIFY wakes it at commit — one writer at a time rings (migration
0024_outbox_bell), so before it sleeps the relay waits out every writer still committing, stamping
meanwhile; a periodic sweep covers a wake-up lost with a connection.
`relay_state.published_through` records what reached the bus; a new leader re-publishes
anything after it, so a crash between stamping and publishing loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import msgspec

from realtime import metrics, outbox_reads
from realtime.bus import Bus
from schema.backoff import Backoff

log = logging.getLogger("musubi.relay")

_LEADER_LOCK: Final = 0x72656C6179  # "relay"
# Held shared by each writer of the outbox from its commit's start to its end; stamp_outbox looks at
# it (migration 0024, which spells it 122550254464888).
_WRITING_LOCK: Final = 0x6F7574626F78  # "outbox"
_NOTIFY_CHANNEL: Final = "musubi_outbox"
# The bus is down: events wait in the outbox, so a short cap keeps the lag short once it is back.
PUBLISH_BACKOFF: Final = Backoff(first_s=0.05, cap_s=2.0)

# One round trip: whether no writer is committing (`settled`), then record progress and stamp the
# next batch in insertion order (migration 0024_outbox_bell); one row of NULLs but `settled` when
# there was nothing to stamp.
_STAMP_BATCH = "SELECT * FROM stamp_outbox($1, $2, $3)"
_UNCONFIRMED = """
SELECT seq, topic, type, payload::text AS payload, created_at FROM outbox
 WHERE seq > (SELECT published_through FROM relay_state) ORDER BY seq
"""


def leader_lock_key() -> tuple[int, int]:
    """The leader lock as pg_locks shows it (classid, objid), for whoever checks that a leader exists."""
    return _LEADER_LOCK >> 32, _LEADER_LOCK & 0xFFFFFFFF


class WireEvent(msgspec.Struct):
    id: int
    topic: str
    type: str
    data: msgspec.Raw


_encoder = msgspec.json.Encoder()


def encode_event(seq: int, topic: str, type_: str, payload_json: str) -> bytes:
    """The exact bytes clients receive; built once per event, never per connection."""
    return _encoder.encode(WireEvent(seq, topic, type_, msgspec.Raw(payload_json.encode())))


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        bus: Bus,
        *,
        batch_size: int = 500,
        sweep_interval_s: float = 1.0,
        standby_interval_s: float = 1.0,
        settle_interval_s: float = 0.002,
    ) -> None:
        self.dsn = dsn
        self.bus = bus
        self.batch_size = batch_size
        self.sweep_interval_s = sweep_interval_s
        self.standby_interval_s = standby_interval_s
        # How often to stamp while writers that did not ring are still committing.
        self.settle_interval_s = settle_interval_s
        self.is_leader = False

    async def run(self) -> None:
        """Relay until cancelled, surviving database and bus outages."""
        while True:
            try:
                await self._lead_when_possible()
            except asyncio.CancelledError:
                raise
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
                log.warning("relay lost its database connection (%r); reconnecting", exc)
            self.is_leader = False
            await asyncio.sleep(self.standby_interval_s)

    async def _lead_when_possible(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):  # noqa: ASYNC110 - polling the database, no event to wait on
                await asyncio.sleep(self.standby_interval_s)
            self.is_leader = True
            metrics.RELAY_LEADER.set(1)
            log.info("relay is the leader")
            await conn.execute("INSERT INTO relay_state DEFAULT VALUES ON CONFLICT DO NOTHING")
            wake = asyncio.Event()
            await conn.add_listener(_NOTIFY_CHANNEL, lambda *_: wake.set())
            await self._publish(await conn.fetch(_UNCONFIRMED))
            head: int = await conn.fetchval(outbox_reads.HEAD)
            published = head
            while True:
                wake.clear()
                stamped = await conn.fetch(_STAMP_BATCH, self.batch_size, head, published)
                rows = [row for row in stamped if row["seq"] is not None]
                if rows:
                    head = max(row["seq"] for row in rows)
                    await self._publish(sorted(rows, key=lambda row: row["seq"]))
                    published = head
                if len(rows) == self.batch_size:
                    continue
                if not stamped[0]["settled"]:
                    # A writer that did not ring (another held the bell) was still committing.
                    await asyncio.sleep(self.settle_interval_s)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.sweep_interval_s)
        finally:
            self.is_leader = False
            metrics.RELAY_LEADER.set(0)
            with contextlib.suppress(Exception):
                await conn.close()

    async def _publish(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        messages = [encode_event(r["seq"], r["topic"], r["type"], r["payload"]) for r in rows]
        delays = PUBLISH_BACKOFF.delays()
        while True:
            try:
                await self.bus.publish(messages)
                _observe_published(rows)
                return
            except Exception as exc:  # the bus is down: wait and send the whole batch again, in order
                metrics.RELAY_PUBLISH_FAILURES.inc()
                delay = next(delays)
                log.warning("publish failed (%r); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)


def _observe_published(rows: Sequence[Any]) -> None:
    """Commit → publish lag. `created_at` is the writer's clock at the change, close to its commit."""
    now = datetime.now(UTC)
    lags = [max((now - row["created_at"]).total_seconds(), 0.0) for row in rows]
    for lag in lags:
        metrics.RELAY_LAG.observe(lag)
    metrics.RELAY_PUBLISHED.inc(len(rows))
    metrics.RELAY_LAST_LAG.set(lags[-1])
