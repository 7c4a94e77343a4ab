"""The mail notifier: resident-facing outbox events → messages in the e-mail outbox.

Push and mail share one path: a service writes one event in the transaction of its change, and
each channel reads the published events after its own cursor (push: backend/push/worker.py;
mail: here). So no service has to remember to queue a mail beside its event, a channel added
later needs no change to the services, and an event rolled back never reaches either channel.
Planning writes the messages and moves the cursor in one transaction, so each event becomes at
most one message per recipient, however many notifiers run (the cursor row is locked).

An event names ids only; the facts a message carries (place, times, fee, deadline, reason) are
read here, when the event is planned. Children are never read, so no message can name one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import asyncpg

from backend.context import AppContext
from backend.mail import messages, queries
from backend.mail.messages import Mail, MailLocale
from backend.mail.outbox import queue_mail
from backend.topics import personal_account

log = logging.getLogger("musubi.mail")

Render = Callable[[asyncpg.Connection, dict[str, Any], MailLocale], Awaitable[Mail | None]]


async def _booking_confirmed(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    b = await conn.fetchrow(queries.BOOKING_FACTS, event["bookingId"])
    # A lottery win is told by its lottery result, which carries the same deadline.
    if b is None or b["from_lottery"] or b["status"] not in ("provisional", "confirmed"):
        return None
    pay_by = b["pay_by"] if b["status"] == "provisional" else None
    return messages.booking_confirmed(locale, b["place"], b["start"], b["end"], b["fee"], pay_by)


async def _payment_due(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    b = await conn.fetchrow(queries.BOOKING_FACTS, event["bookingId"])
    if b is None or b["status"] != "provisional":  # paid or released since: nothing is due
        return None
    return messages.payment_due(locale, b["place"], b["start"], b["end"], b["fee"], b["pay_by"])


async def _booking_cancelled(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    b = await conn.fetchrow(queries.BOOKING_FACTS, event["bookingId"])
    # Only a cancellation by someone else (the facility's staff) is news; the booker's own, or
    # the system releasing an unpaid booking (ended_by null), is not this notice.
    if b is None or b["status"] != "cancelled" or b["ended_by"] is None or b["ended_by"] == b["account_id"]:
        return None
    reason = event.get("reason") or b["end_reason"] or ""
    return messages.booking_cancelled_by_facility(locale, b["place"], b["start"], b["end"], reason)


async def _waitlist_offer(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    b = await conn.fetchrow(queries.BOOKING_FACTS, event["bookingId"])
    if b is None:
        return None
    hold_until = datetime.fromisoformat(event["holdUntil"])
    return messages.waitlist_offer(locale, b["place"], b["start"], b["end"], hold_until)


async def _lottery_result(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    lottery = await conn.fetchrow(queries.LOTTERY_FACTS, event["lotteryId"])
    if lottery is None:
        return None
    b = await conn.fetchrow(queries.BOOKING_FACTS, event["bookingId"]) if event.get("bookingId") else None
    won = bool(event["won"]) and b is not None
    return messages.lottery_result(
        locale,
        lottery["facility"],
        lottery["month"],
        won,
        b["place"] if b else None,
        b["start"] if b else None,
        b["end"] if b else None,
        b["pay_by"] if b and b["status"] == "provisional" else None,
    )


async def _childcare_confirmed(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    s = await conn.fetchrow(queries.SESSION_FACTS, event["sessionId"])
    return None if s is None else messages.childcare_confirmed(locale, s["nursery"], s["day"], s["block"])


async def _childcare_reminder(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    s = await conn.fetchrow(queries.SESSION_FACTS, event["sessionId"])
    return None if s is None else messages.childcare_reminder(locale, s["nursery"], s["day"], s["block"])


async def _childcare_cancelled(conn: asyncpg.Connection, event: dict[str, Any], locale: MailLocale) -> Mail | None:
    if not event.get("byNursery"):  # the parent's own cancellation
        return None
    s = await conn.fetchrow(queries.SESSION_FACTS, event["sessionId"])
    if s is None:
        return None
    return messages.childcare_cancelled_by_nursery(locale, s["nursery"], s["day"], s["block"], s["cancel_reason"] or "")


@dataclass(frozen=True)
class Notice:
    kind: str  # the NoticeKind a resident turns off in PATCH /v1/me (schema/accounts.py)
    render: Render


# Event type → the notice it may become (README: "Notices").
NOTICES: dict[str, Notice] = {
    "booking.created": Notice("booking_confirmed", _booking_confirmed),
    "booking.payment_due": Notice("payment_due", _payment_due),
    "booking.cancelled": Notice("booking_cancelled_by_facility", _booking_cancelled),
    "waitlist.offered": Notice("waitlist_offer", _waitlist_offer),
    "lottery.result": Notice("lottery_result", _lottery_result),
    "childcare.reserved": Notice("childcare_confirmed", _childcare_confirmed),
    "childcare.reminder": Notice("childcare_reminder", _childcare_reminder),
    "childcare.cancelled": Notice("childcare_cancelled_by_nursery", _childcare_cancelled),
}


@dataclass
class MailNotifier:
    ctx: AppContext
    batch: int = 200

    async def plan(self) -> int:
        """Turn newly published events into queued mail; returns how many events were read."""
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.ENSURE_NOTICE_CURSOR)
            last_seq = await conn.fetchval(queries.NOTICE_CURSOR)
            events = await conn.fetch(queries.EVENTS_AFTER, last_seq, self.batch)
            for event in events:
                notice = NOTICES.get(event["type"])
                # Resident notices go to the person's own topic; the same event on an
                # organisation's topic (e.g. childcare.reserved to the nursery) is not theirs.
                account_id = personal_account(event["topic"])
                if notice is not None and account_id is not None:
                    await self._notify(conn, account_id, notice, json.loads(event["payload"]), now)
            if events:
                await conn.execute(queries.ADVANCE_NOTICE_CURSOR, events[-1]["seq"])
        return len(events)

    async def _notify(
        self, conn: asyncpg.Connection, account_id: int, notice: Notice, event: dict[str, Any], now: datetime
    ) -> None:
        recipient = await conn.fetchrow(queries.RECIPIENT, account_id, notice.kind)
        if recipient is None or recipient["wanted"] == "false":  # a kind not named is on
            return
        mail = await notice.render(conn, event, cast(MailLocale, recipient["locale"]))
        if mail is not None:
            await queue_mail(conn, account_id=account_id, to=recipient["email"], mail=mail, at=now)
