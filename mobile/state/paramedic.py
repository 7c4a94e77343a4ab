"""The paramedic's case: a form built for gloved hands, send to many hospitals, live answers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgspec

from mobile.api import ApiError, Failure, MusubiApi
from mobile.send_queue import SendQueue
from schema.ems import Case, HospitalBoard, HospitalRequest
from schema.events import EmsDestinationSet, EmsRequestReleased, EmsRequestResponded, Event

JCS_VALUES = ("0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300")
STEPS = {"age": (0, 130, 5), "sbp": (0, 300, 5), "hr": (0, 300, 5), "spo2": (0, 100, 1), "e": (1, 4, 1),
         "v": (1, 5, 1), "m": (1, 6, 1)}  # fmt: skip
BOARD_RANK = {"accepting": 0, "limited": 1, "unknown": 2, "not_accepting": 3}


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class HospitalChoice:
    """A hospital as the crew weighs it: its best department status on the board and its distance."""

    hospital_id: int
    name: str
    best: str
    km: float | None


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
    hr: int = 80
    spo2: int = 98
    location: tuple[float, float] = (36.366, 140.471)  # Mito, until the phone gives a fix
    hospitals: list[HospitalChoice] = field(default_factory=list)
    selected: set[int] = field(default_factory=set)
    case_id: int | None = None
    requests: dict[int, HospitalRequest] = field(default_factory=dict)  # hospital id → latest request
    error: Failure | None = None
    # Photos waiting for the case to exist or for the network: (file name, bytes).
    photos_pending: list[tuple[str, bytes]] = field(default_factory=list)
    photos_sent: list[str] = field(default_factory=list)
    # The queued "open case" action, by its Idempotency-Key: the queue may be reloaded after a restart.
    open_key: str | None = None

    def step(self, name: str, direction: int) -> None:
        low, high, size = STEPS[name]
        setattr(self, name, max(low, min(high, getattr(self, name) + direction * size)))

    def case_body(self) -> dict[str, Any]:
        return {
            "estimatedAge": self.age,
            "sex": self.sex,
            "chiefComplaint": self.complaint.strip() or "—",
            "jcs": self.jcs,
            "gcs": {"e": self.e, "v": self.v, "m": self.m},
            "vitals": {"sbp": self.sbp, "hr": self.hr, "spo2": self.spo2},
            "location": {"lat": self.location[0], "lon": self.location[1]},
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

    def toggle(self, hospital_id: int) -> None:
        self.selected ^= {hospital_id}

    async def send(self) -> None:
        """Open the case (once) and ask every selected hospital — through the send queue, so it
        survives a dead zone and is never sent twice."""
        if not self.selected:
            self.error = "select_hospital"
            return
        if self.case_id is None and self.open_key is None:
            self.open_key = self.queue.add("open_case", "POST", "/v1/ems/cases", self.case_body()).key
        if self.case_id is not None:
            path, path_from = f"/v1/ems/cases/{self.case_id}/requests", None
        else:
            path, path_from = "/v1/ems/cases/{id}/requests", self.open_key
        self.queue.add("send_to_hospitals", "POST", path, {"hospitalIds": sorted(self.selected)}, path_from=path_from)
        await self.flush()

    async def flush(self) -> None:
        await self.queue.flush()
        opened = next((item for item in self.queue.items if item.key == self.open_key), None)
        if opened is not None and opened.status == "sent":
            self.case_id = opened.result["id"]
        for action in self.queue.items:
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
        case = msgspec.convert(await self.api.get(f"/v1/ems/cases/{self.case_id}"), Case)
        self.requests = {r.hospital_id: r for r in case.requests}

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

    def hospital_name(self, hospital_id: int) -> str:
        return next((h.name for h in self.hospitals if h.hospital_id == hospital_id), f"#{hospital_id}")
