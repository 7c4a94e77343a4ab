"""Ambulance (EMS) cases, hospital requests, answers and the acceptance board."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec

from schema.base import Id, Input, Wire

Sex = Literal["male", "female", "unknown"]
# Japan Coma Scale: its ten values, as written on Japanese EMS forms.
Jcs = Literal["0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300"]
DeclineReason = Literal["no_beds", "no_specialist", "treating_another_patient", "equipment_down", "other"]
Department = Literal[
    "emergency",
    "internal_medicine",
    "cardiology",
    "neurosurgery",
    "neurology",
    "surgery",
    "orthopedics",
    "pediatrics",
    "obstetrics",
    "psychiatry",
    "burns",
    "toxicology",
]
RequestStatus = Literal["pending", "accepted", "declined", "selected", "released"]
BoardStatus = Literal["accepting", "limited", "not_accepting"]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Gcs(Input):
    e: Annotated[int, msgspec.Meta(ge=1, le=4)]
    v: Annotated[int, msgspec.Meta(ge=1, le=5)]
    m: Annotated[int, msgspec.Meta(ge=1, le=6)]


class Vitals(Input):
    """Physiological ranges: anything outside is a typo, not a patient."""

    sbp: Annotated[int, msgspec.Meta(ge=0, le=300)] | None = None
    dbp: Annotated[int, msgspec.Meta(ge=0, le=250)] | None = None
    hr: Annotated[int, msgspec.Meta(ge=0, le=300)] | None = None
    rr: Annotated[int, msgspec.Meta(ge=0, le=80)] | None = None
    spo2: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    temp: Annotated[float, msgspec.Meta(ge=25.0, le=45.0)] | None = None


class VitalsCreate(Vitals, kw_only=True):
    taken_at: Instant


class Location(Input):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class CaseCreate(Input):
    estimated_age: Annotated[int, msgspec.Meta(ge=0, le=130)]
    sex: Sex
    chief_complaint: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    jcs: Jcs | None = None
    gcs: Gcs | None = None
    vitals: Vitals | None = None
    allergies: Annotated[list[ShortText], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    medications: Annotated[list[ShortText], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    location: Location | None = None
    eta_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] | None = None


class VitalsRecord(Wire):
    id: int
    taken_at: datetime
    sbp: int | None
    dbp: int | None
    hr: int | None
    rr: int | None
    spo2: int | None
    temp: float | None


class Attachment(Wire):
    id: int
    media_type: str
    size: int
    created_at: datetime


class HospitalRequest(Wire):
    request_id: int
    hospital_id: int
    status: RequestStatus
    sent_at: datetime
    responded_at: datetime | None = None
    reason: DeclineReason | None = None
    department: str | None = None


class GcsRecord(Wire):
    e: int
    v: int
    m: int


class Case(Wire):
    id: int
    fire_department_id: int
    opened_at: datetime
    estimated_age: int | None
    sex: Sex | None
    chief_complaint: str | None
    jcs: Jcs | None
    gcs: GcsRecord | None
    allergies: list[str]
    medications: list[str]
    location: dict[str, float] | None
    eta_minutes: int | None
    vitals: list[VitalsRecord]
    attachments: list[Attachment]
    requests: list[HospitalRequest]
    destination_hospital_id: int | None


MAX_HOSPITALS: Final = 30  # asked at once by one send


class RequestsCreate(Input):
    hospital_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=MAX_HOSPITALS)]


class RequestResponse(Input):
    decision: Literal["accept", "decline"]
    reason: DeclineReason | None = None
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    department: Department | None = None


class DestinationCreate(Input):
    hospital_id: Id


class InboxItem(Wire):
    """What an ER desk sees before opening the case: enough to decide, nothing to identify."""

    request_id: int
    case_id: int
    status: RequestStatus
    sent_at: datetime
    realert_count: int
    estimated_age: int | None
    sex: Sex | None
    chief_complaint: str | None
    jcs: Jcs | None
    eta_minutes: int | None


class IncomingCase(Wire):
    """A patient on the way to the caller's hospital (its destination), for the ER to get ready:
    the case as the crew sent it, every vitals set (oldest first) and the photos' ids.

    `etaAt` is the case's opening plus `etaMinutes`: the crew's estimate when it opened the case."""

    case_id: int
    request_id: int
    hospital_id: int
    department: str | None
    opened_at: datetime
    destination_at: datetime
    estimated_age: int | None
    sex: Sex | None
    chief_complaint: str | None
    jcs: Jcs | None
    gcs: GcsRecord | None
    allergies: list[str]
    medications: list[str]
    eta_minutes: int | None
    eta_at: datetime | None
    latest_vitals: VitalsRecord | None
    vitals: list[VitalsRecord]
    attachments: list[Attachment]


class BoardUpdate(Input):
    status: BoardStatus
    until: Instant


class BoardEntry(Wire):
    department: str
    status: Literal["accepting", "limited", "not_accepting", "unknown"]
    until: datetime | None
    updated_at: datetime | None


class HospitalBoard(Wire):
    hospital_id: int
    name: str
    lat: float | None
    lon: float | None
    departments: list[BoardEntry]


class EmsStats(Wire):
    cases: int
    cases_with_requests: int
    mean_inquiries_per_case: float | None
    share_needing_4_or_more_inquiries: float | None
    median_seconds_to_acceptance: float | None
    p90_seconds_to_acceptance: float | None


# -- back office ---------------------------------------------------------------------


class HospitalDepartment(Wire):
    department: str
    name: str
    created_at: datetime
    retired_at: datetime | None


class HospitalDepartmentCreate(Input):
    """A department the hospital runs: its code from the shared list, and the hospital's own name for it."""

    department: Department
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


CaseState = Literal["open", "transporting", "closed"]
CaseOutcome = Literal["handed_over", "not_transported"]


class FireCase(Wire):
    """A fire department's case in its back-office list (audited: it names the complaint)."""

    id: int
    opened_at: datetime
    state: CaseState
    outcome: CaseOutcome | None
    closed_at: datetime | None
    destination_hospital_id: int | None
    inquiries: int
    estimated_age: int | None
    sex: Sex | None
    chief_complaint: str | None


class CaseClose(Input):
    """Handed over at the destination, or not transported; a reason is required for the latter."""

    outcome: CaseOutcome
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None
