"""E-mail notices to residents (issue 18): each resident-facing event becomes one message in the
recipient's language with the facts of it, through the same outbox the push worker reads; a kind
turned off sends nothing; no message names a child."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage

import asyncpg
import httpx
import pytest

from backend.childcare.service import ChildcareService
from backend.core.clock import MovableClock
from backend.core.context import AppContext
from backend.mail.notices import MailNotifier
from backend.mail.sink import html_of, text_of
from backend.processes.jobs import remind_payment_due_tomorrow
from realtime.bus import MemoryBus
from realtime.relay import OutboxRelay
from schema.time import TOKYO
from tests.integration.childcare.test_childcare import Nursery, child_of, in_days, reserve, session, years_before
from tests.integration.facilities.conftest import make_venue
from tests.integration.lottery.test_lottery import apply, create_lottery
from tests.smtp_sink import SmtpServer
from tests.support import Actor, Actors

CHILD_NAME = "鈴木 蓮"  # what child_of registers, with allergies "卵 egg" and notes "昼寝は1時間"


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[None]:
    """Stamps committed events with their publish order, as in production (the notifier reads published events)."""
    task = asyncio.create_task(OutboxRelay(database_url, MemoryBus(), sweep_interval_s=0.05).run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def mail_out(ctx: AppContext, db: asyncpg.Pool, smtp: SmtpServer) -> list[EmailMessage]:
    """Wait until the relay has published what is committed, plan the notices, send them; what arrived."""
    for _ in range(250):
        if not await db.fetchval("SELECT count(*) FROM outbox WHERE seq IS NULL"):
            break
        await asyncio.sleep(0.02)
    while await MailNotifier(ctx).plan():
        pass
    return await smtp.deliver(ctx)


def to(messages: list[EmailMessage], person: Actor) -> list[EmailMessage]:
    return [m for m in messages if m["To"] == person.email]


def when(start: datetime, locale: str) -> str:
    local = start.astimezone(TOKYO)
    if locale == "ja":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b} {local.year}, {local:%H:%M}"


async def english(http: httpx.AsyncClient, person: Actor) -> None:
    changed = await http.patch("/v1/me", json={"locale": "en"}, headers=person.headers)
    assert changed.status_code == 200, changed.text


async def test_booking_notices_arrive_in_each_bookers_language_with_the_facts(
    http: httpx.AsyncClient,
    actors: Actors,
    ctx: AppContext,
    db: asyncpg.Pool,
    smtp: SmtpServer,
    relay: None,
    clock: MovableClock,
) -> None:
    venue = await make_venue(http, actors)
    hana, john = await actors.resident(), await actors.resident()
    await english(http, john)
    await mail_out(ctx, db, smtp)  # sign-up mail out of the way

    # A provisional booking tells its fee and payment deadline, in Japanese.
    slot = venue.slot(5, 10)
    booked = await http.post("/v1/bookings", json=slot, headers=hana.headers)
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert booking["status"] == "provisional"
    pay_by = datetime.fromisoformat(booking["payBy"])
    [provisional] = to(await mail_out(ctx, db, smtp), hana)
    assert provisional["Subject"] == "【Musubi】仮予約を受け付けました"
    body = text_of(provisional)
    assert "水戸市総合体育館 メインアリーナ" in body
    assert when(datetime.fromisoformat(slot["start"]), "ja") + "–11:00" in body
    assert f"{booking['fee']:,} 円" in body
    assert when(pay_by, "ja") in body

    # John waits for that slot; Hana cancels it herself (no notice to her), so it is held for John.
    waited = await http.post("/v1/waitlist", json=slot, headers=john.headers)
    assert waited.status_code == 201, waited.text
    cancelled = await http.post(f"/v1/bookings/{booking['id']}/cancel", headers=hana.headers)
    assert cancelled.status_code == 200, cancelled.text
    arrived = await mail_out(ctx, db, smtp)
    assert to(arrived, hana) == []
    [offer] = to(arrived, john)
    assert offer["Subject"] == "[Musubi] A slot you waited for is held for you"
    hold_until = await db.fetchval(
        "SELECT hold_until FROM bookings WHERE account_id = $1 AND status = 'held'", john.account_id
    )
    assert f"held for you until {when(hold_until, 'en')}" in text_of(offer)

    # John takes it; the facility cancels it with a reason, and he is told why, in English.
    taken = await http.post("/v1/bookings", json=slot, headers=john.headers)
    assert taken.status_code == 201, taken.text
    [taken_mail] = to(await mail_out(ctx, db, smtp), john)
    assert taken_mail["Subject"] == "[Musubi] Provisional booking: please pay by the deadline"
    by_staff = await http.post(
        f"/v1/bookings/{taken.json()['id']}/cancel",
        json={"reason": "Floor repair 床の改修"},
        headers=venue.staff.headers,
    )
    assert by_staff.status_code == 200, by_staff.text
    [facility_cancel] = to(await mail_out(ctx, db, smtp), john)
    assert facility_cancel["Subject"] == "[Musubi] The facility cancelled your booking"
    assert "Reason: Floor repair 床の改修" in text_of(facility_cancel)
    assert "Floor repair" in html_of(facility_cancel)

    # The day before the deadline, once, however often the sweep runs.
    again = await http.post("/v1/bookings", json=venue.slot(6, 14), headers=hana.headers)
    assert again.status_code == 201, again.text
    await mail_out(ctx, db, smtp)
    due = datetime.fromisoformat(again.json()["payBy"])
    await remind_payment_due_tomorrow(ctx)
    assert to(await mail_out(ctx, db, smtp), hana) == []  # not tomorrow yet
    clock.advance_to(due - timedelta(hours=23, minutes=59))
    await remind_payment_due_tomorrow(ctx)
    await remind_payment_due_tomorrow(ctx)
    [reminder] = to(await mail_out(ctx, db, smtp), hana)
    assert reminder["Subject"] == "【Musubi】お支払い期限は明日です"
    assert when(due, "ja") in text_of(reminder)


async def test_a_kind_turned_off_sends_nothing_and_the_others_still_arrive(
    http: httpx.AsyncClient, actors: Actors, ctx: AppContext, db: asyncpg.Pool, smtp: SmtpServer, relay: None
) -> None:
    venue = await make_venue(http, actors, feePerUnit=0, nonResidentFeePerUnit=None)
    quiet = await actors.resident()
    off = await http.patch(
        "/v1/me", json={"notifications": {"email": {"booking_confirmed": False}}}, headers=quiet.headers
    )
    assert off.status_code == 200, off.text
    await mail_out(ctx, db, smtp)
    booked = await http.post("/v1/bookings", json=venue.slot(4, 9), headers=quiet.headers)
    assert booked.status_code == 201, booked.text
    assert to(await mail_out(ctx, db, smtp), quiet) == []
    # Only that kind is off: the facility's cancellation still arrives.
    by_staff = await http.post(
        f"/v1/bookings/{booked.json()['id']}/cancel", json={"reason": "点検"}, headers=venue.staff.headers
    )
    assert by_staff.status_code == 200, by_staff.text
    [cancel] = to(await mail_out(ctx, db, smtp), quiet)
    assert cancel["Subject"] == "【Musubi】施設により予約が取り消されました"
    assert await db.fetchval("SELECT count(*) FROM email_outbox WHERE kind = 'booking_confirmed'") == 0


async def test_childcare_notices_name_the_nursery_and_time_never_the_child(
    http: httpx.AsyncClient,
    actors: Actors,
    ctx: AppContext,
    db: asyncpg.Pool,
    smtp: SmtpServer,
    relay: None,
    clock: MovableClock,
) -> None:
    nursery_id = await actors.organization("nursery", name="みと保育園")
    nursery = Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))
    day = in_days(3)
    session_id = await session(http, nursery, day, "morning")
    parent = await actors.resident()
    child = await child_of(http, parent, years_before(day, 4), approve_at=nursery)
    await mail_out(ctx, db, smtp)

    assert (await reserve(http, parent, session_id, child)).status_code == 201
    [confirmed] = to(await mail_out(ctx, db, smtp), parent)
    assert confirmed["Subject"] == "【Musubi】一時預かりの予約が確定しました"
    assert f"みと保育園　{day.year}年{day.month}月{day.day}日（午前）" in text_of(confirmed)

    clock.advance(timedelta(days=2))
    assert await ChildcareService(ctx).send_reminders() == 1
    [reminder] = to(await mail_out(ctx, db, smtp), parent)
    assert reminder["Subject"] == "【Musubi】明日は一時預かりの予約があります"

    staff = await actors.login(nursery.staff.email, nursery.staff.account_id)  # the clock outran the session
    cancelled = await http.post(
        f"/v1/nurseries/{nursery.id}/sessions/{session_id}/cancel", json={"reason": "職員不足"}, headers=staff.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    [called_off] = to(await mail_out(ctx, db, smtp), parent)
    assert called_off["Subject"] == "【Musubi】一時預かりが園の都合で中止になりました"
    assert "理由: 職員不足" in text_of(called_off)

    everything = smtp.sink.messages
    assert len(to(everything, parent)) == 4  # verification and the three notices
    for message in everything:
        whole = message.as_string() + text_of(message) + html_of(message)
        assert [word for word in (CHILD_NAME, "鈴木", "蓮", "卵", "昼寝") if word in whole] == [], message["Subject"]


async def test_lottery_result_tells_winner_and_loser(
    http: httpx.AsyncClient,
    actors: Actors,
    ctx: AppContext,
    db: asyncpg.Pool,
    smtp: SmtpServer,
    relay: None,
    clock: MovableClock,
) -> None:
    venue = await make_venue(http, actors)
    lottery = await create_lottery(http, venue)
    first, second = await actors.resident(), await actors.resident()
    await english(http, second)
    for person in (first, second):
        assert (await apply(http, person, lottery["id"], venue, (10, 10))).status_code == 201
    await mail_out(ctx, db, smtp)
    clock.advance(timedelta(days=1, minutes=1))
    staff = await actors.login(venue.staff.email, venue.staff.account_id)
    drawn = await http.post(f"/v1/lotteries/{lottery['id']}/draw", headers=staff.headers)
    assert drawn.status_code == 200, drawn.text
    arrived = await mail_out(ctx, db, smtp)
    winner_id = await db.fetchval("SELECT account_id FROM bookings WHERE status = 'provisional'")
    winner, loser = (first, second) if winner_id == first.account_id else (second, first)
    [won] = to(arrived, winner)  # the result only: the win's booking is not told twice
    [lost] = to(arrived, loser)
    subjects = {first.email: "【Musubi】抽選結果のお知らせ", second.email: "[Musubi] Lottery result"}
    assert won["Subject"] == subjects[winner.email]
    assert lost["Subject"] == subjects[loser.email]
    pay_by = await db.fetchval("SELECT pay_by FROM bookings WHERE account_id = $1", winner.account_id)
    won_text = text_of(won)
    assert "メインアリーナ" in won_text
    assert "10:00–11:00" in won_text
    if winner is first:
        assert "当選しました" in won_text
        assert when(pay_by, "ja") in won_text
        assert "not drawn" in text_of(lost)
    else:
        assert "You won" in won_text
        assert when(pay_by, "en") in won_text
        assert "落選" in text_of(lost)
