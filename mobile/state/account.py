"""The account screen, the same for every role: profile, language, notices, password, sessions, the
calendar subscription link, the data export and deletion (issue 18's rights, from the client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from schema.accounts import Me, NoticeKind, SessionInfo
from schema.calendars import CalendarFeed

NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)
Channel = Literal["push", "email"]
CHANNELS: tuple[Channel, ...] = ("push", "email")
# The server's rule (schema.accounts.Password), checked here too so the person reads why in their
# language instead of a validation path.
PASSWORD_MIN = 10


@dataclass
class AccountModel:
    api: MusubiApi
    me: Me
    sessions: list[SessionInfo] = field(default_factory=list)  # the caller's live sessions
    # Shown once when issued: the server keeps only a hash, so the link cannot be read back later.
    feed: CalendarFeed | None = None
    # The forms, each bound to its fields.
    display_name: str = ""
    new_email: str = ""
    email_password: str = ""
    current_password: str = ""
    new_password: str = ""
    notice: str | None = None  # a translation key confirming the last action
    # Which section the notice or error belongs to: it is shown there, next to the button pressed,
    # not at the top of a long screen the person has scrolled away from.
    section: str = ""
    # Counts actions sent; the forms are keyed by it so a field the model emptied is drawn empty (an
    # empty value redrawn over an empty value is no change to Flet, and the browser kept the text).
    sent: int = 0
    error: Failure | None = None

    def __post_init__(self) -> None:
        self.display_name = self.me.display_name

    async def load(self) -> None:
        self.me = msgspec.convert(await self.api.get("/v1/me"), Me)
        self.sessions = msgspec.convert(await self.api.get("/v1/me/sessions"), list[SessionInfo])

    def _refuse(self, section: str, key: str) -> bool:
        """A refusal decided on the device, before anything is sent."""
        self.section, self.error, self.notice = section, key, None
        return False

    async def _do(self, section: str, work: Callable[[], Awaitable[object]], notice: str | None = None) -> bool:
        """Run one action, then refetch what it may have changed."""
        self.section, self.error, self.notice = section, None, None
        self.sent += 1
        try:
            await work()
            await self.load()
        except ApiError as error:
            self.error = error
            return False
        self.notice = notice
        return True

    def notices_on(self, channel: Channel, kind: NoticeKind) -> bool:
        """A kind the person never turned off is on."""
        chosen: dict[NoticeKind, bool] = getattr(self.me.notifications, channel)
        return chosen.get(kind, True)

    async def save_name(self) -> bool:
        if not self.display_name.strip():
            return self._refuse("profile", "name_needed")
        body = {"displayName": self.display_name.strip()}
        return await self._do("profile", lambda: self.api.request("PATCH", "/v1/me", body), "saved")

    async def set_locale(self, locale: str) -> bool:
        return await self._do("language", lambda: self.api.request("PATCH", "/v1/me", {"locale": locale}))

    async def set_notice(self, channel: Channel, kind: NoticeKind, on: bool) -> bool:
        body = {"notifications": {channel: {kind: on}}}
        return await self._do("notices", lambda: self.api.request("PATCH", "/v1/me", body))

    async def change_email(self) -> bool:
        if not self.new_email.strip() or not self.email_password:
            return self._refuse("email", "email_and_password_needed")
        body = {"email": self.new_email.strip(), "currentPassword": self.email_password}
        if await self._do("email", lambda: self.api.put("/v1/me/email", body), "email_change_sent"):
            self.new_email = self.email_password = ""
            return True
        return False

    async def change_password(self) -> bool:
        if not self.current_password:
            return self._refuse("password", "current_password_needed")
        if len(self.new_password) < PASSWORD_MIN:
            return self._refuse("password", "password_too_short")
        body = {"current": self.current_password, "new": self.new_password}
        done = await self._do("password", lambda: self.api.post("/v1/me/password", body), "password_changed")
        # Neither password stays in memory once sent, whatever the answer.
        self.current_password = self.new_password = ""
        return done

    async def revoke_session(self, session_id: int) -> bool:
        path = f"/v1/me/sessions/{session_id}"
        return await self._do("sessions", lambda: self.api.request("DELETE", path), "session_ended")

    async def revoke_other_sessions(self) -> bool:
        return await self._do("sessions", lambda: self.api.request("DELETE", "/v1/me/sessions"), "sessions_ended")

    async def issue_feed(self) -> bool:
        """A new subscription link; the previous one stops working."""

        async def issue() -> None:
            self.feed = msgspec.convert(await self.api.post("/v1/me/calendar-feed"), CalendarFeed)

        return await self._do("feed", issue, "feed_issued")

    async def revoke_feed(self) -> bool:
        async def revoke() -> None:
            await self.api.request("DELETE", "/v1/me/calendar-feed")
            self.feed = None

        return await self._do("feed", revoke, "feed_revoked")

    async def export(self) -> bytes | None:
        """Everything the service holds about the person, as the JSON the server sends."""
        self.section, self.error, self.notice = "export", None, None
        try:
            return await self.api.download("/v1/me/export")
        except ApiError as error:
            self.error = error
            return None

    async def delete(self) -> bool:
        """Delete the account; afterwards its token is dead and the shell logs out."""
        self.section, self.error, self.notice = "delete", None, None
        try:
            await self.api.request("DELETE", "/v1/me")
        except ApiError as error:
            self.error = error
            return False
        return True
