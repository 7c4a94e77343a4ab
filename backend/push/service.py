"""Device registration."""

from __future__ import annotations

from backend.auth import Caller
from backend.context import AppContext
from backend.errors import Conflict, NotFound
from backend.push import queries
from backend.rows import from_row
from schema.push import Device, DeviceCreate


class DeviceService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def register(self, caller: Caller, data: DeviceCreate) -> Device:
        token = data.token.lower()
        cap = self.ctx.settings.max_devices_per_account
        async with self.ctx.acquire() as conn, conn.transaction():
            await conn.execute(queries.LOCK_DEVICES_OF_ACCOUNT, caller.account_id)
            if await conn.fetchval(queries.OTHER_ACTIVE_DEVICES, caller.account_id, token) >= cap:
                raise Conflict(
                    f"At most {cap} devices per account; remove one (DELETE /v1/devices/{{id}}) first.",
                    slug="too-many-devices",
                    title="Too many devices",
                )
            row = await conn.fetchrow(
                queries.UPSERT_DEVICE, caller.account_id, data.platform, token, data.locale, self.ctx.clock.now()
            )
        return from_row(Device, row)

    async def remove(self, caller: Caller, device_id: int) -> None:
        async with self.ctx.acquire() as conn:
            if await conn.execute(queries.DELETE_DEVICE, device_id, caller.account_id) == "DELETE 0":
                raise NotFound()
