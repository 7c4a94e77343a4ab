"""The one clock of the application, injected so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """A clock that follows real time from an offset the caller can advance."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def advance_to(self, instant: datetime) -> None:
        """Make it `instant` now, and from there follow real time (a test set at a booking's start,
        whatever the time of day it runs at)."""
        self._offset += instant - self.now()

    def reset(self) -> None:
        self._offset = timedelta()
