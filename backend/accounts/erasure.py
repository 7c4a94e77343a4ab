"""Deleting an account (APPI 利用停止・消去): what it holds is cancelled under the normal rules,
then its personal fields are erased in one transaction.

Bookings and childcare reservations are cancelled through their own services, so the same
deadlines, waitlist hand-overs and events apply as when the person cancels them by hand; what
the rules no longer allow to cancel (past the deadline) stays, anonymised with the account.
The account row keeps its id: bookings, statistics and audit rows name it and nothing else.
"""

from __future__ import annotations

import contextlib

from backend.accounts import queries
from backend.accounts.service import AccountService
from backend.childcare.service import ChildcareService
from backend.core.auth import Caller
from backend.core.context import AppContext
from backend.core.errors import DomainError
from backend.facilities.service import FacilityService


async def delete_account(ctx: AppContext, caller: Caller) -> None:
    accounts = AccountService(ctx)
    # Checked first so a refused deletion cancels nothing; checked again when erasing.
    await accounts.deletion_blockers(caller)
    now = ctx.clock.now()
    async with ctx.acquire() as conn:
        bookings = [row["id"] for row in await conn.fetch(queries.FUTURE_LIVE_BOOKINGS, caller.account_id, now)]
        reservations = [row["id"] for row in await conn.fetch(queries.FUTURE_LIVE_RESERVATIONS, caller.account_id, now)]
    facilities, childcare = FacilityService(ctx), ChildcareService(ctx)
    for booking_id in bookings:
        # Past its cancellation deadline, a booking stays (anonymised with the account).
        with contextlib.suppress(DomainError):
            await facilities.cancel(caller, booking_id, None)
    for reservation_id in reservations:
        with contextlib.suppress(DomainError):
            await childcare.cancel(caller, reservation_id)
    await accounts.erase(caller, ctx.clock.now())
