"""HTTP ↔ DeviceService."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from backend.auth import SIGNED_IN
from backend.context import app_context
from backend.params import Me
from backend.push.service import DeviceService
from schema.base import MAX_ID
from schema.push import Device, DeviceCreate


def device_service(state: State) -> DeviceService:
    return DeviceService(app_context(state))


@post("/v1/devices", access=SIGNED_IN, operation_id="registerDevice")
async def register_device(data: JSONBody[DeviceCreate], caller: Me, devices: NamedDependency[DeviceService]) -> Device:
    """Register this phone's APNs token for the caller (a token belongs to one account)."""
    return await devices.register(caller, data)


@delete("/v1/devices/{device_id:int}", access=SIGNED_IN, operation_id="removeDevice", status_code=204)
async def remove_device(
    device_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    caller: Me,
    devices: NamedDependency[DeviceService],
) -> None:
    """Stop pushing to this phone."""
    await devices.remove(caller, device_id)


router = Router(
    path="/",
    tags=["push"],
    route_handlers=[register_device, remove_device],
    dependencies={"devices": Provide(device_service, sync_to_thread=False)},
)
