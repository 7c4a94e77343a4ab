"""Device registration for push notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schema.base import Input, Wire


class DeviceCreate(Input):
    platform: Literal["ios"]
    # APNs device tokens are 32 bytes, sent as 64 hex characters (longer ones are allowed for the future).
    token: Annotated[str, msgspec.Meta(min_length=64, max_length=200, pattern=r"^[0-9a-fA-F]+$")]
    locale: Literal["ja", "en"] = "ja"


class Device(Wire):
    id: int
    platform: Literal["ios"]
    locale: Literal["ja", "en"]
    created_at: datetime
