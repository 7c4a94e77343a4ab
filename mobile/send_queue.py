"""The offline send queue: actions wait while the network is down and go out in order when it
returns, each with an Idempotency-Key fixed when queued, so a retry can never act twice.

Built for paramedics in a moving ambulance: every item shows its state (queued, sending, sent,
failed); a failure with an answer (4xx) stops being retried and says why; a failure without
one (no network, 5xx) stays queued and blocks the items behind it, keeping their order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mobile.api import ApiError, MusubiApi

Status = Literal["queued", "sending", "sent", "failed"]


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


class SendQueue:
    def __init__(self, api: MusubiApi, store: Path | None = None, on_change: Callable[[], None] | None = None) -> None:
        self.api = api
        self.store = store
        self.on_change = on_change or (lambda: None)
        self.items: list[QueuedAction] = self._load()

    def _load(self) -> list[QueuedAction]:
        if self.store is None or not self.store.exists():
            return []
        return [QueuedAction(**item) for item in json.loads(self.store.read_text())]

    def _save(self) -> None:
        if self.store is not None:
            self.store.write_text(json.dumps([asdict(item) for item in self.items], ensure_ascii=False, default=str))
        self.on_change()

    def add(self, label: str, method: str, path: str, body: Any, path_from: str | None = None) -> QueuedAction:
        action = QueuedAction(label, method, path, body, path_from=path_from)
        self.items.append(action)
        self._save()
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
        """Send queued actions in order; True when none is left waiting."""
        for action in self.items:
            if action.status not in ("queued", "sending"):
                continue
            action.status = "sending"
            self._save()
            try:
                action.result = await self.api.request(
                    action.method, self._path(action), action.body, idempotency_key=action.key
                )
            except ApiError as error:
                if error.offline or error.status >= 500 or (error.status == 409 and "in-progress" in error.type):
                    action.status = "queued"  # try again later, same key
                    action.error = str(error)
                    self._save()
                    return False
                action.status, action.error = "failed", str(error)
            else:
                action.status, action.error = "sent", None
            self._save()
        return True
