"""The push worker: urgent outbox events → APNs, at least once, never twice on purpose.

Planning reads published events (by event id, after a cursor) and writes one delivery row per
recipient device in the same transaction that moves the cursor. Sending claims due rows with
a lease (SKIP LOCKED), so several workers share the work. Apple's answers decide what happens:
200 → sent; 410 Unregistered or 400 BadDeviceToken → the device is deactivated; 429, 5xx or no
connection → retried with exponential backoff and jitter; other errors → failed. Every send
is recorded (status, apns-id, reason) for support.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import asyncpg
from aioapns import NotificationRequest, PushType

from backend.context import AppContext
from backend.metrics import record_push_result
from backend.push import queries
from backend.push.messages import TOPIC_ROLES, URGENT, collapse_id, payload_for
from backend.topics import organization_of, personal_account
from schema.backoff import Backoff

log = logging.getLogger("musubi.push")

DEACTIVATING_REASONS = {"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"}
MAX_ATTEMPTS = 10
LEASE = timedelta(seconds=30)
# Urgent pushes: retry within seconds, and never leave one waiting more than five minutes.
PUSH_BACKOFF = Backoff(first_s=1.0, cap_s=300.0)


class ApnsResult(Protocol):
    notification_id: str
    status: str
    description: str | None


class ApnsClient(Protocol):
    async def send_notification(self, request: NotificationRequest) -> Any: ...


@dataclass
class PushWorker:
    ctx: AppContext
    apns: ApnsClient
    batch: int = 200
    poll_interval_s: float = 0.5
    backoff: Backoff = PUSH_BACKOFF

    async def run(self) -> None:
        while True:
            try:
                planned = await self.plan()
                sent = await self.send_due()
            except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                log.warning("push round failed (%r); trying again", exc)
                planned = sent = 0
            if not planned and not sent:
                await asyncio.sleep(self.poll_interval_s)

    async def plan(self) -> int:
        """Turn newly published urgent events into delivery rows; returns how many events were read."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.ENSURE_CURSOR)
            last_seq = await conn.fetchval(queries.CURSOR)
            events = await conn.fetch(queries.PUBLISHED_AFTER, last_seq, self.batch)
            for event in events:
                if event["type"] in URGENT:
                    await self._plan_event(conn, event, now)
            if events:
                await conn.execute(queries.ADVANCE_CURSOR, events[-1]["seq"])
        return len(events)

    async def _plan_event(self, conn: asyncpg.Connection, event: asyncpg.Record, now: Any) -> None:
        account_id, organization = personal_account(event["topic"]), organization_of(event["topic"])
        if account_id is not None:
            devices = await conn.fetch(queries.DEVICES_OF_ACCOUNT, account_id)
        elif organization is not None and organization[0] in TOPIC_ROLES:
            prefix, organization_id = organization
            devices = await conn.fetch(queries.DEVICES_OF_ROLE, organization_id, list(TOPIC_ROLES[prefix]))
        else:
            return
        data = json.loads(event["payload"])
        kind = URGENT[event["type"]]
        for device in devices:
            await conn.execute(
                queries.INSERT_DELIVERY,
                event["id"],
                device["id"],
                event["type"],
                kind.priority,
                kind.ttl_seconds,
                collapse_id(event["type"], data),
                payload_for(event["type"], data, device["locale"]),
                now,
            )

    async def send_due(self) -> int:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn:
            due = await conn.fetch(queries.CLAIM_DUE, now, now + LEASE, self.batch)
        await asyncio.gather(*(self._send(row) for row in due))
        return len(due)

    async def _send(self, row: asyncpg.Record) -> None:
        # The lifetime counts from when the event happened, not from this (possibly late) attempt.
        remaining = row["ttl_seconds"] - int((self.ctx.clock.now() - row["created_at"]).total_seconds())
        request = NotificationRequest(
            device_token=row["token"],
            message=json.loads(row["payload"]),
            notification_id=row["apns_id"],
            priority=row["priority"],
            time_to_live=max(remaining, 0),
            collapse_key=row["collapse_id"],
            push_type=PushType.ALERT,
        )
        try:
            result = await self.apns.send_notification(request)
            status, reason = int(result.status), result.description
        except Exception as exc:  # no connection: Apple (or the network) is down; retry
            status, reason = 0, f"{type(exc).__name__}: {exc}"[:200]
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if status == 200:
                await conn.execute(queries.MARK_SENT, row["id"], now)
                record_push_result("sent")
            elif reason in DEACTIVATING_REASONS or status == 410:
                await conn.execute(queries.MARK_FINAL, row["id"], "unregistered", status, reason)
                await conn.execute(queries.DEACTIVATE_DEVICE, row["device_id"], now, reason)
                record_push_result("unregistered")
            elif (status == 0 or status == 429 or status >= 500) and row["attempts"] < MAX_ATTEMPTS:
                delay = self.backoff.delay(row["attempts"])
                await conn.execute(queries.RETRY_LATER, row["id"], now + timedelta(seconds=delay), status, reason)
                record_push_result("retry")
            else:
                await conn.execute(queries.MARK_FINAL, row["id"], "failed", status, reason)
                record_push_result("failed")
                log.error("push %s to device %s failed for good: %s %s", row["id"], row["device_id"], status, reason)
