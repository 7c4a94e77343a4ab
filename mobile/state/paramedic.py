"""The paramedic's case: a form built for gloved hands, send to many hospitals, live answers,
vitals over time and the case's timeline."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from mobile.send_queue import QueuedAction, SendQueue
from schema.ems import Case, HospitalBoard, HospitalRequest, VitalsRecord
from schema.events import EmsDestinationSet, EmsRequestReleased, EmsRequestResponded, Event

JCS_VALUES = ("0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300")
# name: (lowest, highest, one tap). Temperature is kept in tenths of a degree so a tap adds 0.1 exactly.
STEPS = {"age": (0, 130, 5), "eta": (0, 240, 1), "sbp": (0, 300, 5), "dbp": (0, 250, 5), "hr": (0, 300, 5),
         "rr": (0, 80, 1), "spo2": (0, 100, 1), "temp10": (250, 450, 1), "e": (1, 4, 1), "v": (1, 5, 1),
         "m": (1, 6, 1)}  # fmt: skip
VITALS = ("sbp", "dbp", "hr", "rr", "spo2", "temp10")
CASE_PATH = re.compile(r"^/v1/ems/cases/(\d+)/")
BOARD_RANK = {"accepting": 0, "limited": 1, "unknown": 2, "not_accepting": 3}
# Allergies and medications are typed as one line each; these separate the items (Japanese too).
_LIST_SEPARATORS = re.compile(r"[,、，;；\n]+")


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def as_list(text: str) -> list[str]:
    """ "ペニシリン、卵" → ["ペニシリン", "卵"]: the server takes lists of short texts."""
    return [item.strip()[:100] for item in _LIST_SEPARATORS.split(text) if item.strip()]


@dataclass(frozen=True)
class HospitalChoice:
    """A hospital as the crew weighs it: its best department status on the board and its distance."""

    hospital_id: int
    name: str
    best: str
    km: float | None


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the case's timeline: a vitals set, a request sent, an answer, the destination."""

    at: datetime
    kind: Literal["vitals", "sent", "answer"]
    hospital_id: int | None = None
    status: str | None = None
    reason: str | None = None
    vitals: VitalsRecord | None = None


@dataclass
class ParamedicModel:
    api: MusubiApi
    queue: SendQueue
    age: int = 60
    sex: str = "unknown"
    complaint: str = ""
    jcs: str = "0"
    e: int = 4
    v: int = 5
    m: int = 6
    sbp: int = 120
    dbp: int = 80
    hr: int = 80
    rr: int = 16
    spo2: int = 98
    temp10: int = 365
    eta: int = 10
    allergies: str = ""
    medications: str = ""
    location: tuple[float, float] = (36.366, 140.471)  # Mito, until the phone gives a fix
    # Whose point `location` is: None while the device is being asked, True its own, False the Mito point.
    located: bool | None = None
    hospitals: list[HospitalChoice] = field(default_factory=list)
    selected: set[int] = field(default_factory=set)
    case_id: int | None = None
    case: Case | None = None  # the case as the server last answered it: vitals, requests, answers
    requests: dict[int, HospitalRequest] = field(default_factory=dict)  # hospital id → latest request
    error: Failure | None = None
    sending: bool = False  # a send is under way: the button is off, so one tap is one request
    # Photos waiting for the case to exist or for the network: (file name, bytes).
    photos_pending: list[tuple[str, bytes]] = field(default_factory=list)
    photos_sent: list[str] = field(default_factory=list)
    # The queued "open case" action, by its Idempotency-Key: the queue may be reloaded after a restart.
    open_key: str | None = None
    # The Idempotency-Keys of this case's queued actions: the queue outlives a case (new case button).
    keys: list[str] = field(default_factory=list)

    def step(self, name: str, direction: int) -> None:
        low, high, size = STEPS[name]
        setattr(self, name, max(low, min(high, getattr(self, name) + direction * size)))

    @property
    def temp(self) -> float:
        return self.temp10 / 10

    def vitals_body(self) -> dict[str, Any]:
        return {"sbp": self.sbp, "dbp": self.dbp, "hr": self.hr, "rr": self.rr, "spo2": self.spo2, "temp": self.temp}

    def case_body(self) -> dict[str, Any]:
        return {
            "estimatedAge": self.age,
            "sex": self.sex,
            "chiefComplaint": self.complaint.strip()[:500] or "—",
            "jcs": self.jcs,
            "gcs": {"e": self.e, "v": self.v, "m": self.m},
            "vitals": self.vitals_body(),
            "allergies": as_list(self.allergies)[:30],
            "medications": as_list(self.medications)[:50],
            "location": {"lat": self.location[0], "lon": self.location[1]},
            "etaMinutes": self.eta,
        }

    async def load_hospitals(self) -> None:
        """Every hospital, best first: accepting departments, then distance."""
        board = msgspec.convert(await self.api.get("/v1/hospitals/board"), list[HospitalBoard])
        lat, lon = self.location
        choices = [
            HospitalChoice(
                hospital.hospital_id,
                hospital.name,
                min([d.status for d in hospital.departments] or ["unknown"], key=BOARD_RANK.__getitem__),
                distance_km(lat, lon, hospital.lat, hospital.lon)
                if hospital.lat is not None and hospital.lon is not None
                else None,
            )
            for hospital in board
        ]
        self.hospitals = sorted(choices, key=lambda h: (BOARD_RANK[h.best], h.km is None, h.km or 0.0))

    async def use_position(self, position: tuple[float, float] | None) -> None:
        """The device's position when it gave one (the case location and the distances follow it);
        otherwise the fixed point stays, and the screen says so."""
        self.located = position is not None
        if position is not None:
            self.location = position
            await self.load_hospitals()

    def resume(self) -> None:
        """After a reload or restart, the case the stored queue belongs to: its actions are shown
        again, and its id is known once its opening was sent (or from the paths of its actions)."""
        items = self.queue.items
        openings = [index for index, item in enumerate(items) if item.label == "open_case"]
        if openings:
            opening = items[openings[-1]]
            self.open_key = opening.key
            self.keys = [item.key for item in items[openings[-1] :]]
            if opening.status == "sent" and opening.result is not None:
                self.case_id = msgspec.convert(opening.result, Case).id
        elif items and (known := CASE_PATH.match(items[-1].path)):
            self.case_id = int(known.group(1))
            self.keys = [item.key for item in items if item.path.startswith(f"/v1/ems/cases/{self.case_id}/")]

    def toggle(self, hospital_id: int) -> None:
        self.selected ^= {hospital_id}

    def _queue(self, label: str, path: str, body: Any) -> QueuedAction:
        """An action of this case. `path` below the case ("/requests") waits for the queued opening
        while the case has no id yet; "" is the opening itself."""
        if not path:
            action = self.queue.add(label, "POST", "/v1/ems/cases", body)
        elif self.case_id is None:
            action = self.queue.add(label, "POST", "/v1/ems/cases/{id}" + path, body, path_from=self.open_key)
        else:
            action = self.queue.add(label, "POST", f"/v1/ems/cases/{self.case_id}{path}", body)
        self.keys.append(action.key)
        return action

    @property
    def queued(self) -> list[QueuedAction]:
        """This case's actions in the send queue, with their state."""
        return [item for item in self.queue.items if item.key in self.keys]

    async def send(self) -> None:
        """Open the case (once) and ask every selected hospital not yet asked — through the send
        queue, so it survives a dead zone and is never sent twice."""
        wanted = sorted(self.selected - set(self.requests))
        if not wanted:
            self.error = "select_hospital"
            return
        self.error = None
        if self.case_id is None and self.open_key is None:
            self.open_key = self._queue("open_case", "", self.case_body()).key
        self._queue("send_to_hospitals", "/requests", {"hospitalIds": wanted})
        await self.flush()
        if self.case_id is not None:
            try:
                await self.refresh()
            except ApiError as error:
                self.error = error

    async def add_vitals(self) -> None:
        """A later set of vitals, taken now (queued like the rest)."""
        if self.case_id is None and self.open_key is None:
            return
        body = {"takenAt": datetime.now(UTC).isoformat(), **self.vitals_body()}
        self._queue("add_vitals", "/vitals", body)
        await self.flush()
        if self.case_id is not None:
            try:
                await self.refresh()
            except ApiError as error:
                self.error = error

    async def flush(self) -> None:
        await self.queue.flush()
        opened = next((item for item in self.queue.items if item.key == self.open_key), None)
        if opened is not None and opened.status == "sent":
            self.case_id = msgspec.convert(opened.result, Case).id
        for action in self.queued:
            if action.label == "send_to_hospitals" and action.status == "sent":
                for request in msgspec.convert(action.result, list[HospitalRequest]):
                    self.requests.setdefault(request.hospital_id, request)
        await self._send_photos()

    async def attach(self, name: str, content: bytes) -> None:
        """A photo (medicine notebook, ECG strip): sent now if the case exists, else when it does."""
        self.photos_pending.append((name, content))
        await self._send_photos()

    async def _send_photos(self) -> None:
        while self.case_id is not None and self.photos_pending:
            name, content = self.photos_pending[0]
            media_type = "image/png" if name.lower().endswith(".png") else "image/jpeg"
            try:
                await self.api.upload(f"/v1/ems/cases/{self.case_id}/attachments", content, media_type)
            except ApiError as error:
                self.error = error
                if error.offline or error.status >= 500:
                    return  # keep it for the next flush
            else:
                self.photos_sent.append(name)
            self.photos_pending.pop(0)

    async def on_event(self, event: Event) -> None:
        """Live answers for the crew's fire department."""
        match event:
            case (
                EmsRequestResponded(case_id=case_id)
                | EmsDestinationSet(case_id=case_id)
                | EmsRequestReleased(case_id=case_id)
            ) if case_id == self.case_id:
                await self.resync()

    async def refresh(self) -> None:
        if self.case_id is None:
            return
        self.case = msgspec.convert(await self.api.get(f"/v1/ems/cases/{self.case_id}"), Case)
        self.requests = {r.hospital_id: r for r in self.case.requests}

    async def resync(self) -> None:
        """After a gap in the live stream: the answers again, and anything the queue still holds."""
        try:
            await self.flush()
            await self.refresh()
        except ApiError as error:
            self.error = error

    async def confirm(self, hospital_id: int) -> bool:
        if self.case_id is None:
            return False
        try:
            await self.api.post(f"/v1/ems/cases/{self.case_id}/destination", {"hospitalId": hospital_id})
        except ApiError as error:
            self.error = error
            return False
        await self.refresh()
        return True

    def new_case(self) -> None:
        """Start the next patient: the form as new, the last case's answers and timeline gone (its
        queued actions, if any, still go out)."""
        fresh = ParamedicModel(self.api, self.queue)
        for name in (f.name for f in fields(self)):
            if name not in ("api", "queue", "location", "located", "hospitals"):
                setattr(self, name, getattr(fresh, name))

    @property
    def destination(self) -> int | None:
        return next((h for h, r in self.requests.items() if r.status == "selected"), None)

    def timeline(self) -> list[TimelineEntry]:
        """What happened to the case, oldest first: vitals sets, requests sent, answers."""
        if self.case is None:
            return []
        entries = [TimelineEntry(v.taken_at, "vitals", vitals=v) for v in self.case.vitals]
        for r in self.case.requests:
            entries.append(TimelineEntry(r.sent_at, "sent", hospital_id=r.hospital_id))
            if r.responded_at is not None:  # answered; a later release or choice does not move the answer
                status = "declined" if r.status == "declined" else "accepted"
                entries.append(
                    TimelineEntry(r.responded_at, "answer", hospital_id=r.hospital_id, status=status, reason=r.reason)
                )
        return sorted(entries, key=lambda entry: entry.at)

    def hospital_name(self, hospital_id: int) -> str:
        return next((h.name for h in self.hospitals if h.hospital_id == hospital_id), f"#{hospital_id}")
