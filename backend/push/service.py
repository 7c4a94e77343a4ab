"""Device registration."""

from __future__ import annotations

from backend.accounts.access import Caller
from backend.context import AppContext
from backend.errors import NotFound
from backend.push import queries
from schema.push import Device, DeviceCreate


class DeviceService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def register(self, caller: Caller, data: DeviceCreate) -> Device:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(
                queries.UPSERT_DEVICE,
                caller.account_id,
                data.platform,
                data.token.lower(),
                data.locale,
                self.ctx.clock.now(),
            )
        return Device(**dict(row))

    async def remove(self, caller: Caller, device_id: int) -> None:
        async with self.ctx.acquire() as conn:
            if await conn.execute(queries.DELETE_DEVICE, device_id, caller.account_id) == "DELETE 0":
                raise NotFound()
