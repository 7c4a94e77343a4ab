"""The offline send queue: actions wait while the API cannot be reached and go out in order when it
returns, each with an Idempotency-Key fixed when queued, so a retry can never act twice.

Built for paramedics in a moving ambulance: every item shows its state (queued, sending, sent,
failed); a failure with an answer (4xx) stops being retried and says why; a failure without
one (no network, 5xx) stays queued and blocks the items behind it, keeping their order.

Items waiting are kept in a store (`QueueStore`): the device's storage on the web build (the
browser's localStorage, see mobile/views/app.py), a file on desktop; a queue opened on the same
store after a restart or a reload picks them up with their keys. While items wait, the queue
retries on its own with capped exponential backoff and jitter (so a fleet of devices coming out
of one outage does not arrive at once); `nudge()` makes it try now, for when the connection is
known to be back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from mobile.api import ApiError, MusubiApi

Status = Literal["queued", "sending", "sent", "failed"]
FIRST_RETRY_SECONDS = 1.0
LAST_RETRY_SECONDS = 60.0


@dataclass
class QueuedAction:
    label: str
    method: str
    path: str
    body: Any
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: Status = "queued"
    result: Any = None
    error: str | None = None
    # Filled from an earlier action's result when it is sent, e.g. the new case's id.
    path_from: str | None = None


class QueueStore(Protocol):
    """Where waiting items outlive the page or the app: a JSON text, read once, rewritten whole."""

    async def load(self) -> str | None: ...

    async def save(self, text: str) -> None: ...


@dataclass(frozen=True)
class FileStore:
    """A file, for desktop and phone builds (and tests)."""

    path: Path

    async def load(self) -> str | None:
        return await asyncio.to_thread(lambda: self.path.read_text() if self.path.exists() else None)

    async def save(self, text: str) -> None:
        await asyncio.to_thread(self.path.write_text, text)


class SendQueue:
    def __init__(
        self,
        api: MusubiApi,
        store: QueueStore | None = None,
        on_change: Callable[[], None] | None = None,
        on_drained: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.api = api
        self.store = store
        self.on_change = on_change or (lambda: None)
        self.on_drained = on_drained  # told when retries sent the last waiting item (results to pick up)
        self.items: list[QueuedAction] = []
        self._sending = asyncio.Lock()  # one flush at a time: the retry loop and a tap may meet
        self._storing = asyncio.Lock()
        self._wake = asyncio.Event()
        self._retrying: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        api: MusubiApi,
        store: QueueStore | None,
        on_change: Callable[[], None] | None = None,
        on_drained: Callable[[], Awaitable[None]] | None = None,
    ) -> SendQueue:
        """A queue with the items its store kept; those still waiting are retried from now on."""
        queue = cls(api, store, on_change, on_drained)
        await queue.reload()
        return queue

    async def reload(self) -> None:
        text = await self.store.load() if self.store is not None else None
        try:
            self.items = [QueuedAction(**item) for item in json.loads(text)] if text else []
        except (ValueError, TypeError):  # written by another version, or damaged: start empty
            self.items = []
        for item in self.items:
            if item.status == "sending":  # the page went away mid-send: the same key makes a resend safe
                item.status = "queued"
        if self.pending:
            self._retry_later()

    def _kept(self) -> list[QueuedAction]:
        """What the store keeps: items still waiting, and the sent ones they take a path from."""
        waiting = self.pending
        sources = {item.path_from for item in waiting}
        return [item for item in self.items if item in waiting or item.key in sources]

    async def _save(self) -> None:
        if self.store is None:
            return
        async with self._storing:  # in order, each with the latest items: two writes never interleave
            text = json.dumps([asdict(item) for item in self._kept()], ensure_ascii=False, default=str)
            with contextlib.suppress(Exception):  # a store that fails must not stop the sending
                await self.store.save(text)

    def _changed(self) -> None:
        with contextlib.suppress(Exception):
            self.on_change()

    def add(self, label: str, method: str, path: str, body: Any, path_from: str | None = None) -> QueuedAction:
        """Queue an action; it is stored at once and sent by the next flush (or the retries)."""
        action = QueuedAction(label, method, path, body, path_from=path_from)
        self.items.append(action)
        with contextlib.suppress(RuntimeError):  # no running loop: the next flush stores it
            asyncio.get_running_loop().create_task(self._save())
        self._changed()
        return action

    @property
    def pending(self) -> list[QueuedAction]:
        return [item for item in self.items if item.status in ("queued", "sending")]

    def _path(self, action: QueuedAction) -> str:
        if action.path_from is None:
            return action.path
        source = next(item for item in self.items if item.key == action.path_from)
        if source.status != "sent":
            raise ApiError(0, "waiting for an earlier action")
        return action.path.format(**source.result)

    async def flush(self) -> bool:
        """Send queued actions in order; True when none is left waiting (else retries are scheduled)."""
        async with self._sending:
            done = await self._send_in_order()
        if not done:
            self._retry_later()
        return done

    async def _send_in_order(self) -> bool:
        await self._save()
        for action in self.items:
            if action.status not in ("queued", "sending"):
                continue
            action.status = "sending"
            self._changed()
            try:
                action.result = await self.api.request(
                    action.method, self._path(action), action.body, idempotency_key=action.key
                )
            except ApiError as error:
                if error.offline or error.status >= 500 or (error.status == 409 and "in-progress" in error.type):
                    action.status = "queued"  # try again later, same key
                    action.error = str(error)
                    await self._save()
                    self._changed()
                    return False
                action.status, action.error = "failed", str(error)
            else:
                action.status, action.error = "sent", None
            await self._save()
            self._changed()
        return True

    def nudge(self) -> None:
        """The connection is back (the live stream is up, the browser reattached): try now."""
        if self.pending:
            self._wake.set()
            self._retry_later()

    def _retry_later(self) -> None:
        if self._retrying is None or self._retrying.done():
            with contextlib.suppress(RuntimeError):
                self._retrying = asyncio.get_running_loop().create_task(self._keep_retrying())

    async def _keep_retrying(self) -> None:
        delay = FIRST_RETRY_SECONDS
        while self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            self._wake.clear()
            delay = min(delay * 2, LAST_RETRY_SECONDS)
            async with self._sending:
                done = await self._send_in_order()
            if done and self.on_drained is not None:
                with contextlib.suppress(Exception):  # the owner's refetch failing is its own business
                    await self.on_drained()

    async def close(self) -> None:
        """Stop retrying (the home closed); what waits stays in the store for the next opening."""
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrying
            self._retrying = None
