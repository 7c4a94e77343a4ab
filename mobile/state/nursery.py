"""The nursery staff's home: sessions by week, the day's roster, attendance and parents' applications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from mobile.state.i18n import Translator
from schema.childcare import PendingApplication, Roster, RosterChild, RosterSession, Session
from schema.events import (
    ChildApplicationDecided,
    ChildApplied,
    ChildcareCancelled,
    ChildcareOffered,
    ChildcareReserved,
    ChildMeetingSet,
    Event,
    NurseryAvailabilityChanged,
)
from schema.time import TOKYO

BANDS = ("0", "1-2", "3-5")
BLOCKS = ("morning", "afternoon", "full_day")
# Changes a parent makes (a reservation, a cancellation, an application) and a colleague's answers
# show without a reload. Typed drafts live in the model, so a refetch never wipes them.
NURSERY_EVENTS = (
    ChildcareReserved,
    ChildcareCancelled,
    ChildcareOffered,
    NurseryAvailabilityChanged,
    ChildApplied,
    ChildApplicationDecided,
    ChildMeetingSet,
)
MEETING_FORMAT = "%Y-%m-%d %H:%M"  # what staff type, in Japan time


def today() -> date:
    return datetime.now(TOKYO).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_meeting(text: str) -> datetime | None:
    """Text such as 2026-12-03 10:00 (or with a T) as that minute in Japan; None when it is not one."""
    try:
        return datetime.strptime(" ".join(text.replace("T", " ").split()), MEETING_FORMAT).replace(tzinfo=TOKYO)
    except ValueError:
        return None


def meeting_text(instant: datetime) -> str:
    return instant.astimezone(TOKYO).strftime(MEETING_FORMAT)


@dataclass
class NurseryModel:
    api: MusubiApi
    nursery_id: int
    day: date = field(default_factory=today)  # the roster's day, and the day a new session is opened on
    week: date = field(default_factory=lambda: monday_of(today()))
    sessions: list[Session] = field(default_factory=list)  # the week's, with places taken
    roster: list[RosterSession] = field(default_factory=list)  # the day's sessions with their children
    applications: list[PendingApplication] = field(default_factory=list)  # pending, oldest first
    nursery_name: str = ""
    # What staff typed per application (id → text), bound keystroke by keystroke: a redraw keeps it.
    meeting_drafts: dict[int, str] = field(default_factory=dict)
    decline_reasons: dict[int, str] = field(default_factory=dict)
    # The new-session form: a block and places per band.
    block: str = "morning"
    capacity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BANDS, 3))
    error: Failure | None = None

    async def load(self) -> None:
        week = {"from": str(self.week), "to": str(self.week + timedelta(6))}
        sessions = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/sessions", **week), list[Session]
        )
        roster = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/roster", date=str(self.day)), Roster
        )
        self.applications = msgspec.convert(
            await self.api.get(f"/v1/nurseries/{self.nursery_id}/applications"), list[PendingApplication]
        )
        self.sessions, self.roster, self.nursery_name = sessions, roster.sessions, roster.nursery_name
        pending = {a.id for a in self.applications}
        # Pruned in place: the fields on screen write into these very dicts.
        for drafts in (self.meeting_drafts, self.decline_reasons):
            for gone in drafts.keys() - pending:
                del drafts[gone]

    async def _do(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run one action, then refetch: the screen shows what the server now holds, not a guess."""
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
        if isinstance(event, NURSERY_EVENTS):
            await self.resync()

    # -- moving through time -------------------------------------------------------------------

    async def shift_week(self, weeks: int) -> None:
        self.week += timedelta(weeks=weeks)
        await self.resync()

    async def shift_day(self, days: int) -> None:
        self.day += timedelta(days=days)
        self.week = monday_of(self.day)
        await self.resync()

    async def show_day(self, day: date) -> None:
        self.day = day
        await self.resync()

    # -- sessions ------------------------------------------------------------------------------

    def set_places(self, band: str, places: int) -> None:
        self.capacity[band] = max(0, min(200, places))

    async def create_session(self) -> bool:
        body = {"date": str(self.day), "block": self.block, "capacity": dict(self.capacity)}
        return await self._do(lambda: self.api.post(f"/v1/nurseries/{self.nursery_id}/sessions", body))

    async def change_capacity(self, session_id: int, band: str, capacity: int) -> bool:
        if capacity < 0:
            self.error = "places_not_negative"
            return False
        path = f"/v1/nurseries/{self.nursery_id}/sessions/{session_id}"
        return await self._do(lambda: self.api.request("PATCH", path, {"capacity": {band: capacity}}))

    async def cancel_session(self, session_id: int, reason: str) -> bool:
        if not reason.strip():
            self.error = "reason_needed"
            return False
        path = f"/v1/nurseries/{self.nursery_id}/sessions/{session_id}/cancel"
        return await self._do(lambda: self.api.post(path, {"reason": reason.strip()}))

    # -- the day ---------------------------------------------------------------------------------

    async def attend(self, reservation_id: int, state: str) -> bool:
        path = f"/v1/childcare/reservations/{reservation_id}/attendance"
        return await self._do(lambda: self.api.post(path, {"state": state}))

    # -- parents' applications -------------------------------------------------------------------

    async def approve(self, child_id: int) -> bool:
        body = {"nurseryId": self.nursery_id}
        return await self._do(lambda: self.api.post(f"/v1/children/{child_id}/approvals", body))

    async def decline(self, child_id: int, application_id: int, reason: str) -> bool:
        if not reason.strip():
            self.error = "reason_needed"
            return False
        path = f"/v1/children/{child_id}/applications/{application_id}/decline"
        return await self._do(lambda: self.api.post(path, {"reason": reason.strip()}))

    def meeting_draft(self, application: PendingApplication) -> str:
        """The field's text: what was typed, else the meeting already set, else nothing."""
        if application.id in self.meeting_drafts:
            return self.meeting_drafts[application.id]
        return meeting_text(application.meeting_at) if application.meeting_at else ""

    async def set_meeting(self, application: PendingApplication) -> bool:
        """The meeting (面談) typed for the application; the server refuses a time already past."""
        at = parse_meeting(self.meeting_draft(application))
        if at is None:
            self.error = "meeting_format"
            return False
        path = f"/v1/children/{application.child_id}/applications/{application.id}/meeting"
        if await self._do(lambda: self.api.post(path, {"meetingAt": at.isoformat()})):
            self.meeting_drafts.pop(application.id, None)
            return True
        return False

    # -- the printable roster --------------------------------------------------------------------

    def roster_document(self, t: Translator) -> bytes:
        return roster_html(self.nursery_name, self.day, self.roster, t).encode()

    @property
    def roster_file_name(self) -> str:
        return f"roster-{self.nursery_id}-{self.day}.html"


async def _nothing() -> None:
    return None


WEEKDAYS = {"ja": "月火水木金土日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}

PRINT_CSS = """
body { font-family: "Hiragino Sans", "Yu Gothic", Meiryo, IPAexGothic, "Noto Sans JP", sans-serif;
       font-size: 20pt; margin: 1em; }
h1 { font-size: 30pt; margin: 0 0 0.2em; }
h2 { font-size: 26pt; border-bottom: 4px solid #000; margin: 0.8em 0 0.3em; }
h3 { font-size: 22pt; margin: 0.6em 0 0.2em; }
table { width: 100%; border-collapse: collapse; }
th, td { border: 2px solid #333; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { font-size: 16pt; background: #eee; }
td.name { font-size: 24pt; font-weight: bold; }
td.notes { white-space: pre-wrap; }
.allergy { color: #b00000; font-weight: bold; }
.cancelled { color: #b00000; }
@media print {
  body { margin: 0; font-size: 18pt; }
  section.session { break-after: page; page-break-after: always; }
  section.session:last-of-type { break-after: auto; page-break-after: auto; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  th { background: none; }
  .allergy, .cancelled { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def roster_html(nursery_name: str, day: date, sessions: list[RosterSession], t: Translator) -> str:
    """The day's roster as a document to print (園児名簿): per session one page, per band a table of
    the children with age, allergies (bold red), notes and attendance. Every text from the server is
    escaped: a child's name or note is data, never markup."""
    weekday = WEEKDAYS[t.locale][day.weekday()] if t.locale in WEEKDAYS else ""
    when = f"{day.isoformat()} ({weekday})"
    title = f"{nursery_name} · {when} · {t('roster')}"
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(t.locale)}">',
        '<head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{PRINT_CSS}</style></head>",
        "<body>",
        f"<header><h1>{escape(nursery_name)}</h1><p>{escape(when)} · {escape(t('roster'))}</p></header>",
    ]
    if not sessions:
        parts.append(f"<p>{escape(t('no_sessions'))}</p>")
    for session in sessions:
        heading = f"{when} · {t(session.block)}"
        cancelled = f' <span class="cancelled">({escape(t("cancelled"))})</span>' if session.cancelled_at else ""
        parts.append(f'<section class="session"><h2>{escape(nursery_name)} · {escape(heading)}{cancelled}</h2>')
        for band in session.bands:
            parts.append(f"<h3>{escape(t('band_' + band.band))}: {band.used}/{band.capacity}</h3>")
            if not band.children:
                parts.append(f"<p>{escape(t('no_children'))}</p>")
                continue
            columns = ("child_name", "age_column", "allergies", "notes", "attendance")
            parts.append("<table><thead><tr>")
            parts += [f"<th>{escape(t(column))}</th>" for column in columns]
            parts.append("</tr></thead><tbody>")
            parts += [_roster_row(child, t) for child in band.children]
            parts.append("</tbody></table>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _roster_row(child: RosterChild, t: Translator) -> str:
    separator = "、" if t.locale == "ja" else ", "
    allergies = (
        f'<span class="allergy"><strong>{escape(separator.join(child.allergies))}</strong></span>'
        if child.allergies
        else escape(t("none"))
    )
    attendance = t(child.attendance)
    if child.arrived_at is not None:
        attendance += f" {child.arrived_at.astimezone(TOKYO):%H:%M}"
    return (
        f'<tr><td class="name">{escape(child.name)}</td>'
        f"<td>{child.age_years}{escape(t('years_old'))}</td>"
        f"<td>{allergies}</td>"
        f'<td class="notes">{escape(child.notes)}</td>'
        f"<td>{escape(attendance)}</td></tr>"
    )
