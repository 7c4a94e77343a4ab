"""The administrator's home: the organisation's members and pending invitations, and the audit log
(who read or changed which record), filterable by subject."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mobile.api import ApiError, Failure, MusubiApi
from schema.events import Event

AUDIT_PAGE = 50


@dataclass
class AdminModel:
    api: MusubiApi
    organization_id: int
    members: list[dict[str, Any]] = field(default_factory=list)
    invitations: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)  # newest first
    # The audit filter, bound to its fields: e.g. subject "child" and id "42".
    subject_type: str = ""
    subject_id: str = ""
    # The invitation form.
    email: str = ""
    role: str = "staff"
    error: Failure | None = None

    async def load(self) -> None:
        base = f"/v1/organizations/{self.organization_id}"
        self.members = await self.api.get(f"{base}/members")
        self.invitations = await self.api.get(f"{base}/invitations")
        self.audit = await self.api.get(
            "/v1/audit",
            subjectType=self.subject_type.strip() or None,
            subjectId=self.subject_id.strip() or None,
            limit=AUDIT_PAGE,
        )

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds."""
        self.error = None
        try:
            await work()
        except ApiError as error:
            self.error = error
            return False
        finally:
            try:
                await self.load()
            except ApiError as error:
                self.error = self.error or error
        return True

    async def resync(self) -> None:
        await self._do(_nothing)

    async def on_event(self, event: Event) -> None:
        del event  # nothing here is pushed live; the list is refetched on demand

    async def filter_audit(self, subject_type: str, subject_id: str) -> None:
        self.subject_type, self.subject_id = subject_type, subject_id
        await self.resync()

    async def invite(self) -> bool:
        if not self.email.strip():
            self.error = "email_needed"
            return False
        body = {"email": self.email.strip(), "role": self.role}
        if await self._do(lambda: self.api.post(f"/v1/organizations/{self.organization_id}/invitations", body)):
            self.email = ""
            return True
        return False

    async def revoke(self, invitation_id: int) -> bool:
        path = f"/v1/organizations/{self.organization_id}/invitations/{invitation_id}"
        return await self._do(lambda: self.api.request("DELETE", path))


async def _nothing() -> None:
    return None
