"""Service health responses."""

from typing import Literal

from schema.base import Wire


class Health(Wire):
    status: Literal["ok"]


class Readiness(Wire):
    status: Literal["ready", "unavailable"]
    database: bool
    redis: bool | None
