"""Rules and transactions of the ambulance-to-hospital handoff.

Who may see a case is decided here on every read: the crew (paramedics of the case's fire
department), and ER staff of a hospital whose request is open, accepted or selected. A
hospital that declined or was released gets 404, as does everyone else. Every read writes
an audit row in the same transaction as the read.

Every change of a case locks the case row before anything else (`_authorize(..., lock=True)`).
Without it a destination and new requests sent at the same moment both succeeded, and the new
hospitals kept the case (and its re-alerts) after it had gone elsewhere. Taking the case lock
first also gives every writer the same lock order (case, then its requests), so these
transactions never deadlock and need no retry. The database backs the rule with the triggers
of ems_requests_closed_after_destination (migration 0011).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

from backend.core.audit import record_audit
from backend.core.auth import Caller, Member
from backend.core.command_keys import CommandKey, answering
from backend.core.context import AppContext
from backend.core.errors import Conflict, NotFound, Unprocessable, register_constraint
from backend.core.outbox import emit, emit_all, outbox_columns
from backend.core.rows import from_row, from_rows
from backend.core.topics import HOSPITAL_BOARD, fire_topic, hospital_topic
from backend.ems import queries
from backend.ems.fhir import as_bundle, content_digest, handoff_document
from schema.base import FieldError
from schema.ems import (
    Attachment,
    BoardEntry,
    BoardUpdate,
    Case,
    CaseClose,
    CaseCreate,
    EmsStats,
    FireCase,
    GcsRecord,
    HospitalBoard,
    HospitalDepartment,
    HospitalDepartmentCreate,
    HospitalRequest,
    InboxItem,
    IncomingCase,
    RequestResponse,
    VitalsCreate,
    VitalsRecord,
)
from schema.events import (
    EmsCaseClosed,
    EmsCaseUpdated,
    EmsDestinationSet,
    EmsRequestCreated,
    EmsRequestRealerted,
    EmsRequestReleased,
    EmsRequestResponded,
    Event,
    HospitalBoardChanged,
)

register_constraint("ems_requests_one_destination", 409, "destination-set", "This case already has a destination")
register_constraint(
    "ems_requests_none_open_after_close", 409, "case-closed", "This case is closed: no request may be open on it"
)
register_constraint(
    "ems_cases_handed_over_has_destination", 409, "no-destination", "A case is handed over only at its destination"
)
register_constraint(
    "ems_requests_closed_after_destination",
    409,
    "destination-set",
    "This case has a destination: no other hospital's request may stay open",
)

CREW = Member("fire_department", "paramedic")
ER_STAFF = Member("hospital", "er_staff")
HOSPITAL_ADMIN = Member("hospital", "admin")
FIRE_STAFF = (CREW, Member("fire_department", "admin"))
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# A handoff needs a few photos (medicine notebook, ECG strips); the cap keeps one case from
# filling the database with the 5 MB a photo may take.
MAX_ATTACHMENTS_PER_CASE = 20
_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
Role = Literal["crew", "hospital"]


def sniff_image(content: bytes) -> str | None:
    """The image type by content, never by the client's word: JPEG or PNG, else None."""
    return next((media for media, magic in _MAGIC.items() if content.startswith(magic)), None)


def _crew_departments(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("fire_department", roles=("paramedic",))


def _er_hospitals(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("hospital", roles=("er_staff",))


def _fire_departments(caller: Caller) -> frozenset[int]:
    return caller.organization_ids("fire_department", roles=("paramedic", "admin"))


def _unknown_department(field: str) -> Unprocessable:
    return Unprocessable(
        "The hospital does not run this department (see GET /v1/hospitals/{id}/departments).",
        slug="unknown-department",
        errors=[FieldError(field=field, message="Not one of the hospital's departments")],
    )


class EmsService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # -- access --------------------------------------------------------------------

    async def _authorize(
        self,
        conn: asyncpg.Connection,
        caller: Caller,
        case_id: int,
        *,
        action: str,
        crew_only: bool = False,
        lock: bool = False,
    ) -> tuple[asyncpg.Record, Role]:
        """The case and the caller's role in it, with an audit row; 404 for anyone without a part in it.

        `lock=True` for every change of the case: the row stays locked until the transaction ends.
        """
        case = await conn.fetchrow(queries.CASE_FOR_UPDATE if lock else queries.CASE, case_id)
        if case is None:
            raise NotFound()
        role: Role | None = None
        if case["fire_department_id"] in _crew_departments(caller):
            role = "crew"
        elif not crew_only and await conn.fetchval(queries.HOSPITAL_ACCESS, case_id, list(_er_hospitals(caller))):
            role = "hospital"
        if role is None:
            raise NotFound()
        await record_audit(
            conn,
            actor=caller.account_id,
            action=action,
            subject_type="ems_case",
            subject_id=case_id,
            reason=f"{role} of the case",
            at=self.ctx.clock.now(),
        )
        return case, role

    # -- cases -----------------------------------------------------------------------

    async def open_case(self, caller: Caller, data: CaseCreate) -> Case:
        departments = sorted(_crew_departments(caller))
        now = self.ctx.clock.now()
        gcs = data.gcs
        async with self.ctx.acquire() as conn, conn.transaction():
            case_id = await conn.fetchval(
                queries.INSERT_CASE,
                departments[0],
                caller.account_id,
                now,
                data.estimated_age,
                data.sex,
                data.chief_complaint,
                data.jcs,
                gcs.e if gcs else None,
                gcs.v if gcs else None,
                gcs.m if gcs else None,
                data.allergies,
                data.medications,
                data.location.lat if data.location else None,
                data.location.lon if data.location else None,
                data.eta_minutes,
            )
            if data.vitals is not None:
                v = data.vitals
                await conn.execute(
                    queries.INSERT_VITALS,
                    case_id,
                    now,
                    v.sbp,
                    v.dbp,
                    v.hr,
                    v.rr,
                    v.spo2,
                    v.temp,
                    caller.account_id,
                    now,
                )
            return await self._case(conn, caller, case_id, action="ems.case.create")

    async def case(self, caller: Caller, case_id: int) -> Case:
        async with self.ctx.acquire() as conn, conn.transaction():
            return await self._case(conn, caller, case_id, action="ems.case.read")

    async def _case(self, conn: asyncpg.Connection, caller: Caller, case_id: int, *, action: str) -> Case:
        case, _ = await self._authorize(conn, caller, case_id, action=action)
        vitals = await conn.fetch(queries.VITALS, case_id)
        attachments = await conn.fetch(queries.ATTACHMENTS, case_id)
        requests = await conn.fetch(queries.REQUESTS, case_id)
        return Case(
            id=case["id"],
            fire_department_id=case["fire_department_id"],
            opened_at=case["opened_at"],
            estimated_age=case["estimated_age"],
            sex=case["sex"],
            chief_complaint=case["chief_complaint"],
            jcs=case["jcs"],
            gcs=GcsRecord(e=case["gcs_e"], v=case["gcs_v"], m=case["gcs_m"]) if case["gcs_e"] is not None else None,
            allergies=list(case["allergies"] or []),
            medications=list(case["medications"] or []),
            location={"lat": case["lat"], "lon": case["lon"]} if case["lat"] is not None else None,
            eta_minutes=case["eta_minutes"],
            vitals=from_rows(VitalsRecord, vitals),
            attachments=from_rows(Attachment, attachments),
            requests=from_rows(HospitalRequest, requests),
            destination_hospital_id=next((r["hospital_id"] for r in requests if r["status"] == "selected"), None),
        )

    async def add_vitals(self, caller: Caller, case_id: int, data: VitalsCreate) -> VitalsRecord:
        now = self.ctx.clock.now()
        if data.taken_at > now + timedelta(minutes=5):
            raise Unprocessable(errors=[FieldError(field="$.takenAt", message="Is in the future")])
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._authorize(conn, caller, case_id, action="ems.vitals.add", crew_only=True, lock=True)
            row = await conn.fetchrow(
                queries.INSERT_VITALS,
                case_id,
                data.taken_at,
                data.sbp,
                data.dbp,
                data.hr,
                data.rr,
                data.spo2,
                data.temp,
                caller.account_id,
                now,
            )
            await self._tell_destination(conn, case_id, now)
        return from_row(VitalsRecord, row)

    async def _tell_destination(self, conn: asyncpg.Connection, case_id: int, at: datetime) -> None:
        """The hospital the patient is heading to sees new vitals and photos live (its incoming list)."""
        destination = await conn.fetchval(queries.SELECTED_HOSPITAL, case_id)
        if destination is not None:
            event = EmsCaseUpdated(case_id=case_id, hospital_id=destination)
            await emit(conn, topic=hospital_topic(destination), event=event, at=at)

    async def add_attachment(self, caller: Caller, case_id: int, declared_type: str, content: bytes) -> Attachment:
        media_type = sniff_image(content)
        if media_type is None:
            raise Unprocessable(
                "Attach a JPEG or PNG photo.",
                slug="not-an-image",
                errors=[FieldError(field="$", message="The content is not a JPEG or PNG image")],
            )
        if declared_type.split(";")[0].strip().lower() != media_type:
            raise Unprocessable(
                errors=[
                    FieldError(field="$", message=f"Content-Type says {declared_type}, the content is {media_type}")
                ]
            )
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._authorize(conn, caller, case_id, action="ems.attachment.add", crew_only=True, lock=True)
            # Counted under the case lock, so concurrent uploads cannot pass the cap together.
            if await conn.fetchval(queries.ATTACHMENT_COUNT, case_id) >= MAX_ATTACHMENTS_PER_CASE:
                raise Conflict(
                    f"A case holds at most {MAX_ATTACHMENTS_PER_CASE} photos.",
                    title="This case has all the photos it may hold",
                    slug="too-many-attachments",
                )
            row = await conn.fetchrow(
                queries.INSERT_ATTACHMENT,
                case_id,
                media_type,
                content,
                len(content),
                hashlib.sha256(content).digest(),
                caller.account_id,
                self.ctx.clock.now(),
            )
            await self._tell_destination(conn, case_id, self.ctx.clock.now())
        return from_row(Attachment, row)

    async def attachment(self, caller: Caller, case_id: int, attachment_id: int) -> tuple[str, bytes]:
        async with self.ctx.acquire() as conn, conn.transaction():
            await self._authorize(conn, caller, case_id, action="ems.attachment.read")
            row = await conn.fetchrow(queries.ATTACHMENT_CONTENT, case_id, attachment_id)
        if row is None:
            raise NotFound()
        return row["media_type"], bytes(row["content"])

    async def fhir_bundle(self, caller: Caller, case_id: int, base_url: str) -> dict[str, Any]:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            case, _ = await self._authorize(conn, caller, case_id, action="ems.case.fhir_export")
            vitals = await conn.fetch(queries.VITALS, case_id)
            requests = await conn.fetch(queries.HANDOFF_REQUESTS, case_id)
            attachments = await conn.fetch(queries.ATTACHMENTS, case_id)
            department = await conn.fetchval(queries.DEPARTMENT_NAME, case["fire_department_id"])
            document = handoff_document(case, vitals, requests, attachments, department, base_url)
            version = await conn.fetchrow(queries.RECORD_FHIR_VERSION, case_id, content_digest(document), now)
        return as_bundle(document, version["version"], version["changed_at"], now)

    # -- requests to hospitals --------------------------------------------------------

    async def send_requests(
        self, caller: Caller, case_id: int, hospital_ids: list[int], key: CommandKey | None = None
    ) -> list[HospitalRequest]:
        """Ask hospitals to take the case's patient: one statement (send_ems_requests) checks the case
        and the hospitals and writes the requests, their events and the audit row. `key`: the request's
        Idempotency-Key, written with them (backend/core/command_keys.py); a retry re-reads the case's
        requests to these hospitals (`requests_of_case`)."""
        wanted = list(dict.fromkeys(hospital_ids))
        # requestId 0 is a placeholder: the function fills in the id of each request it inserts.
        events = [(hospital_topic(h), EmsRequestCreated(request_id=0, case_id=case_id)) for h in wanted]
        if key is not None:
            key.path = f"/v1/ems/cases/{case_id}/requests?" + "&".join(f"hospitalIds={h}" for h in wanted)
        async with self.ctx.acquire() as conn:
            # Outside a transaction on purpose: the one statement is its own transaction.
            with answering(key):
                rows = await conn.fetch(
                    queries.SEND_REQUESTS if key is None else queries.SEND_REQUESTS_WRITING_KEY,
                    case_id,
                    list(_crew_departments(caller)),
                    caller.account_id,
                    wanted,
                    self.ctx.clock.now(),
                    *outbox_columns(events),
                    *(key.columns() if key is not None else ()),
                )
        outcome = rows[0]["outcome"]  # the function returns at least one row whatever the outcome
        if outcome == "not-found":
            raise NotFound()
        if outcome == "destination-set":
            raise Conflict("A destination is already set for this case.", slug="destination-set")
        if outcome == "case-closed":
            raise Conflict("This case is closed.", slug="case-closed")
        if outcome == "unknown-hospital":
            unknown = {r["hospital_id"] for r in rows}
            raise Unprocessable(
                slug="unknown-reference",
                errors=[
                    FieldError(field=f"$.hospitalIds[{i}]", message="Not a hospital")
                    for i, hospital_id in enumerate(hospital_ids)
                    if hospital_id in unknown
                ],
            )
        if key is not None:
            key.answered = True
        return [from_row(HospitalRequest, r) for r in rows]

    async def requests_of_case(
        self, caller: Caller, case_id: int, hospital_ids: list[int] | None
    ) -> list[HospitalRequest]:
        """The case's requests (to `hospital_ids` only, when given) as its crew sees them, oldest first;
        404 for anyone but the case's crew."""
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.CASE_REQUESTS, case_id, list(_crew_departments(caller)), hospital_ids)
        if not rows:
            raise NotFound()
        return [from_row(HospitalRequest, r) for r in rows if r["request_id"] is not None]

    async def inbox(self, caller: Caller, limit: int) -> list[InboxItem]:
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.INBOX, list(_er_hospitals(caller)), limit)
            now = self.ctx.clock.now()
            for row in rows:  # the summary is PHI too: every case shown is audited
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="ems.case.inbox",
                    subject_type="ems_case",
                    subject_id=row["case_id"],
                    reason=f"request {row['request_id']} to the caller's hospital",
                    at=now,
                )
        return from_rows(InboxItem, rows)

    async def incoming(self, caller: Caller, hospital_id: int | None, limit: int) -> list[IncomingCase]:
        """Patients bound for the caller's hospital(s), soonest chosen first; each case shown is audited."""
        hospitals = _er_hospitals(caller)
        if hospital_id is not None and hospital_id not in hospitals:
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.INCOMING, list(hospitals), hospital_id, limit)
            case_ids = [r["case_id"] for r in rows]
            vitals: dict[int, list[VitalsRecord]] = {case_id: [] for case_id in case_ids}
            for v in await conn.fetch(queries.VITALS_OF_CASES, case_ids):
                vitals[v["case_id"]].append(from_row(VitalsRecord, v))
            photos: dict[int, list[Attachment]] = {case_id: [] for case_id in case_ids}
            for a in await conn.fetch(queries.ATTACHMENTS_OF_CASES, case_ids):
                photos[a["case_id"]].append(from_row(Attachment, a))
            for row in rows:
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="ems.case.incoming",
                    subject_type="ems_case",
                    subject_id=row["case_id"],
                    reason=f"destination is hospital {row['hospital_id']}",
                    at=now,
                )
        return [
            IncomingCase(
                case_id=r["case_id"],
                request_id=r["request_id"],
                hospital_id=r["hospital_id"],
                department=r["department"],
                opened_at=r["opened_at"],
                destination_at=r["destination_at"],
                estimated_age=r["estimated_age"],
                sex=r["sex"],
                chief_complaint=r["chief_complaint"],
                jcs=r["jcs"],
                gcs=GcsRecord(e=r["gcs_e"], v=r["gcs_v"], m=r["gcs_m"]) if r["gcs_e"] is not None else None,
                allergies=list(r["allergies"] or []),
                medications=list(r["medications"] or []),
                eta_minutes=r["eta_minutes"],
                eta_at=r["eta_at"],
                latest_vitals=vitals[r["case_id"]][-1] if vitals[r["case_id"]] else None,
                vitals=vitals[r["case_id"]],
                attachments=photos[r["case_id"]],
            )
            for r in rows
        ]

    async def respond(
        self, caller: Caller, request_id: int, data: RequestResponse, key: CommandKey | None = None
    ) -> HospitalRequest:
        """`key`: the request's Idempotency-Key, written with the answer (backend/core/command_keys.py)."""
        now = self.ctx.clock.now()
        if data.decision == "decline" and data.reason is None:
            raise Unprocessable(errors=[FieldError(field="$.reason", message="Say why the hospital declines")])
        if data.decision == "accept" and data.department is None:
            raise Unprocessable(errors=[FieldError(field="$.department", message="Say which department accepts")])
        async with self.ctx.acquire() as conn:
            # A request never changes case or hospital, so these may be read before any lock.
            parties = await conn.fetchrow(queries.REQUEST_PARTIES, request_id)
            if parties is None or parties["hospital_id"] not in _er_hospitals(caller):
                raise NotFound()
            status = "accepted" if data.decision == "accept" else "declined"
            responded = EmsRequestResponded(
                request_id=request_id, case_id=parties["case_id"], hospital_id=parties["hospital_id"], decision=status
            )
            # Outside a transaction on purpose: the one statement is its own transaction.
            with answering(key):
                row = await conn.fetchrow(
                    queries.ANSWER if key is None else queries.ANSWER_WRITING_KEY,
                    request_id,
                    parties["case_id"],
                    status,
                    caller.account_id,
                    data.reason,
                    data.note,
                    data.department,
                    now,
                    *outbox_columns([(fire_topic(parties["fire_department_id"]), responded)]),
                    *(key.columns() if key is not None else ()),
                )
        assert row is not None  # the function returns one row whatever the outcome
        if row["outcome"] == "not-found":
            raise NotFound()
        if row["outcome"] == "request-not-open":
            raise Conflict(f"This request is already {row['status']}.", slug="request-not-open")
        if row["outcome"] == "unknown-department":
            raise _unknown_department("$.department")
        if key is not None:
            key.answered = True
        return from_row(HospitalRequest, row)

    async def request(self, caller: Caller, request_id: int) -> HospitalRequest:
        """One request to a hospital, for that hospital's ER staff (404 for anyone else)."""
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.REQUEST_OF, request_id)
        if row is None or row["hospital_id"] not in _er_hospitals(caller):
            raise NotFound()
        return from_row(HospitalRequest, row)

    async def set_destination(self, caller: Caller, case_id: int, hospital_id: int) -> HospitalRequest:
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            case, _ = await self._authorize(
                conn, caller, case_id, action="ems.destination.set", crew_only=True, lock=True
            )
            if case["destination_at"] is not None:
                raise Conflict("This case already has a destination.", slug="destination-set")
            selected = await conn.fetchval(queries.SELECT_DESTINATION, case_id, hospital_id)
            if selected is None:
                raise Conflict("That hospital has not accepted this case.", slug="not-accepted")
            released = await conn.fetch(queries.RELEASE_OTHERS, case_id)
            await conn.execute(queries.MARK_DESTINATION, case_id, now)
            events: list[tuple[str, Event]] = [
                (hospital_topic(hospital_id), EmsDestinationSet(case_id=case_id, hospital_id=hospital_id)),
                (fire_topic(case["fire_department_id"]), EmsDestinationSet(case_id=case_id, hospital_id=hospital_id)),
            ]
            events += [
                (hospital_topic(r["hospital_id"]), EmsRequestReleased(request_id=r["id"], case_id=case_id))
                for r in released
            ]
            await emit_all(conn, events, at=now)
            row = await conn.fetchrow(queries.REQUEST_OF, selected)
        return from_row(HospitalRequest, row)

    # -- acceptance board ----------------------------------------------------------------

    async def update_board(self, caller: Caller, hospital_id: int, department: str, data: BoardUpdate) -> BoardEntry:
        now = self.ctx.clock.now()
        if hospital_id not in _er_hospitals(caller):
            raise NotFound()
        if not now < data.until <= now + timedelta(days=7):
            raise Unprocessable(errors=[FieldError(field="$.until", message="Must be within the next 7 days")])
        async with self.ctx.acquire() as conn, conn.transaction():
            if not await conn.fetchval(queries.ACTIVE_DEPARTMENT, hospital_id, department):
                raise _unknown_department("department")
            row = await conn.fetchrow(
                queries.UPSERT_BOARD, hospital_id, department, data.status, data.until, caller.account_id, now
            )
            await emit(
                conn,
                topic=HOSPITAL_BOARD,
                event=HospitalBoardChanged(hospital_id=hospital_id, department=department),
                at=now,
            )
        return from_row(BoardEntry, row)

    async def board(self) -> list[HospitalBoard]:
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.BOARD, self.ctx.clock.now())
        # `departments` is JSON built with the wire's camelCase keys, so it converts as it comes.
        return from_rows(HospitalBoard, rows)

    # -- back office: departments ---------------------------------------------------------

    async def departments(self, caller: Caller, hospital_id: int, include_retired: bool) -> list[HospitalDepartment]:
        if hospital_id not in caller.organization_ids("hospital", roles=("er_staff", "admin")):
            raise NotFound()
        async with self.ctx.acquire() as conn:
            rows = await conn.fetch(queries.DEPARTMENTS, hospital_id, include_retired)
        return from_rows(HospitalDepartment, rows)

    async def create_department(
        self, caller: Caller, hospital_id: int, data: HospitalDepartmentCreate
    ) -> HospitalDepartment:
        if hospital_id not in caller.organization_ids("hospital", roles=("admin",)):
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(queries.CREATE_DEPARTMENT, hospital_id, data.department, data.name, now)
            if row is None:
                raise Conflict("The hospital already runs this department.", slug="department-exists")
            await self._department_changed(conn, caller, hospital_id, data.department, "create", now)
        return from_row(HospitalDepartment, row)

    async def retire_department(self, caller: Caller, hospital_id: int, department: str) -> None:
        """The department leaves the board and takes no more answers; past answers keep naming it."""
        if hospital_id not in caller.organization_ids("hospital", roles=("admin",)):
            raise NotFound()
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            if await conn.fetchval(queries.RETIRE_DEPARTMENT, hospital_id, department, now) is None:
                raise NotFound()
            await self._department_changed(conn, caller, hospital_id, department, "retire", now)

    async def _department_changed(
        self, conn: asyncpg.Connection, caller: Caller, hospital_id: int, department: str, change: str, at: datetime
    ) -> None:
        await record_audit(
            conn,
            actor=caller.account_id,
            action=f"hospital.department.{change}",
            subject_type="organization",
            subject_id=hospital_id,
            reason=f"department {department}",
            at=at,
        )
        event = HospitalBoardChanged(hospital_id=hospital_id, department=department)
        await emit(conn, topic=HOSPITAL_BOARD, event=event, at=at)

    # -- back office: the fire department's cases ------------------------------------------

    async def fire_cases(
        self,
        caller: Caller,
        fire_department_id: int,
        day: tuple[datetime, datetime] | None,
        state: str | None,
        before: int,
        limit: int,
    ) -> list[FireCase]:
        """The department's cases, newest first; each case shown names a complaint, so each is audited."""
        if fire_department_id not in _fire_departments(caller):
            raise NotFound()
        start, end = day if day is not None else (None, None)
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.FIRE_CASES, fire_department_id, start, end, state, before, limit)
            for row in rows:
                await record_audit(
                    conn,
                    actor=caller.account_id,
                    action="ems.case.list",
                    subject_type="ems_case",
                    subject_id=row["id"],
                    reason="fire department's case list",
                    at=now,
                )
        return from_rows(FireCase, rows)

    async def close_case(self, caller: Caller, case_id: int, data: CaseClose) -> FireCase:
        if data.outcome == "not_transported" and data.reason is None:
            raise Unprocessable(
                errors=[FieldError(field="$.reason", message="Say why the patient was not transported")]
            )
        now = self.ctx.clock.now()
        async with self.ctx.acquire() as conn, conn.transaction():
            # The case lock first, as every change of a case (module docstring).
            case = await conn.fetchrow(queries.CASE_FOR_UPDATE, case_id)
            if case is None or case["fire_department_id"] not in _fire_departments(caller):
                raise NotFound()
            if case["closed_at"] is not None:
                raise Conflict(f"This case is already closed ({case['outcome']}).", slug="already-closed")
            if data.outcome == "handed_over" and case["destination_at"] is None:
                raise Conflict("Set the destination before handing the patient over.", slug="no-destination")
            released = await conn.fetch(queries.RELEASE_OTHERS, case_id)
            await conn.execute(queries.CLOSE_CASE, case_id, now, caller.account_id, data.outcome, data.reason)
            await record_audit(
                conn,
                actor=caller.account_id,
                action="ems.case.close",
                subject_type="ems_case",
                subject_id=case_id,
                reason=f"{data.outcome}: {data.reason}" if data.reason else data.outcome,
                at=now,
            )
            closed = EmsCaseClosed(case_id=case_id, outcome=data.outcome)
            events: list[tuple[str, Event]] = [(fire_topic(case["fire_department_id"]), closed)]
            destination = await conn.fetchval(queries.SELECTED_HOSPITAL, case_id)
            if destination is not None:
                events.append((hospital_topic(destination), closed))
            events += [
                (hospital_topic(r["hospital_id"]), EmsRequestReleased(request_id=r["id"], case_id=case_id))
                for r in released
            ]
            await emit_all(conn, events, at=now)
            row = await conn.fetchrow(queries.FIRE_CASES, case["fire_department_id"], None, None, None, case_id + 1, 1)
        return from_row(FireCase, row)

    # -- statistics and housekeeping -------------------------------------------------------

    async def stats(self, start: datetime, end: datetime) -> EmsStats:
        async with self.ctx.acquire() as conn:
            row = await conn.fetchrow(queries.STATS, start, end)
        return EmsStats(
            cases=row["cases"],
            cases_with_requests=row["cases_with_requests"],
            mean_inquiries_per_case=float(row["mean_inquiries"]) if row["mean_inquiries"] is not None else None,
            share_needing_4_or_more_inquiries=float(row["share_4_plus"]) if row["share_4_plus"] is not None else None,
            median_seconds_to_acceptance=row["median_acceptance"],
            p90_seconds_to_acceptance=row["p90_acceptance"],
        )

    async def realert_unanswered(self) -> int:
        """Requests still pending after the re-alert interval get an urgent re-alert (push hook)."""
        now = self.ctx.clock.now()
        cutoff = now - timedelta(seconds=self.ctx.settings.ems_realert_seconds)
        async with self.ctx.acquire() as conn, conn.transaction():
            rows = await conn.fetch(queries.UNANSWERED, now, cutoff)
            if rows:
                await emit_all(
                    conn,
                    [
                        (
                            hospital_topic(r["hospital_id"]),
                            EmsRequestRealerted(request_id=r["id"], case_id=r["case_id"], count=r["realert_count"]),
                        )
                        for r in rows
                    ],
                    at=now,
                )
        return len(rows)

    async def purge_expired_phi(self) -> int:
        """Clear patient data of cases older than the retention period; timings stay for statistics."""
        now = self.ctx.clock.now()
        cutoff = now - timedelta(days=self.ctx.settings.ems_retention_days)
        async with self.ctx.acquire() as conn, conn.transaction():
            purged = [r["id"] for r in await conn.fetch(queries.PURGE_CASES, now, cutoff)]
            if purged:
                await conn.execute(queries.PURGE_VITALS, purged)
                await conn.execute(queries.PURGE_ATTACHMENTS, purged)
                await conn.execute(queries.PURGE_NOTES, purged)
                for case_id in purged:
                    await record_audit(
                        conn,
                        actor=None,
                        action="ems.case.purge",
                        subject_type="ems_case",
                        subject_id=case_id,
                        reason=f"retention of {self.ctx.settings.ems_retention_days} days passed",
                        at=now,
                    )
        return len(purged)
