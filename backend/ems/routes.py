"""HTTP ↔ EmsService. No rules here."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from backend.core.auth import PREFECTURE_ADMIN, PUBLIC
from backend.core.command_keys import command_key
from backend.core.context import app_context
from backend.core.pagination import before_id, page
from backend.ems import fhir
from backend.ems.fhir import JCS_PATH
from backend.ems.service import CREW, ER_STAFF, FIRE_STAFF, HOSPITAL_ADMIN, MAX_ATTACHMENT_BYTES, EmsService
from backend.http.idempotency import AnsweredByCommand
from backend.http.params import Cursor, IdParam, Limit, Me
from schema.base import MAX_ID, Id
from schema.ems import (
    MAX_HOSPITALS,
    Attachment,
    BoardEntry,
    BoardUpdate,
    Case,
    CaseClose,
    CaseCreate,
    CaseState,
    Department,
    DestinationCreate,
    EmsStats,
    FireCase,
    HospitalBoard,
    HospitalDepartment,
    HospitalDepartmentCreate,
    HospitalRequest,
    InboxItem,
    IncomingCase,
    RequestResponse,
    RequestsCreate,
    VitalsCreate,
    VitalsRecord,
)

Service = NamedDependency[EmsService]
CASE_READERS = (CREW, ER_STAFF)
# Fire departments count their days in Japan time.
TOKYO: Final = ZoneInfo("Asia/Tokyo")


def ems_service(state: State) -> EmsService:
    return EmsService(app_context(state))


@post("/v1/ems/cases", access=CREW, operation_id="openEmsCase")
async def open_case(data: JSONBody[CaseCreate], caller: Me, ems: Service) -> Case:
    """Open a case at the scene: estimated age, sex, complaint, JCS/GCS, first vitals, location, ETA."""
    return await ems.open_case(caller, data)


@get("/v1/ems/cases/{case_id:int}", access=CASE_READERS, operation_id="getEmsCase")
async def get_case(case_id: IdParam, caller: Me, ems: Service) -> Case:
    """The case, for its crew and for hospitals with an open, accepted or chosen request (audited)."""
    return await ems.case(caller, case_id)


@post("/v1/ems/cases/{case_id:int}/vitals", access=CREW, operation_id="addEmsVitals")
async def add_vitals(case_id: IdParam, data: JSONBody[VitalsCreate], caller: Me, ems: Service) -> VitalsRecord:
    """One more set of vitals, with the time it was taken."""
    return await ems.add_vitals(caller, case_id, data)


@post(
    "/v1/ems/cases/{case_id:int}/attachments",
    access=CREW,
    operation_id="addEmsAttachment",
    request_max_body_size=MAX_ATTACHMENT_BYTES,
)
async def add_attachment(request: Request[Any, Any, Any], case_id: IdParam, caller: Me, ems: Service) -> Attachment:
    """A photo (medicine notebook, ECG strip) as the raw body: image/jpeg or image/png, checked by content."""
    content = await request.body()
    return await ems.add_attachment(caller, case_id, request.headers.get("content-type", ""), content)


@get(
    "/v1/ems/cases/{case_id:int}/attachments/{attachment_id:int}",
    access=CASE_READERS,
    operation_id="getEmsAttachment",
)
async def get_attachment(case_id: IdParam, attachment_id: IdParam, caller: Me, ems: Service) -> Response[bytes]:
    """The photo itself, for whoever may read the case (audited)."""
    media_type, content = await ems.attachment(caller, case_id, attachment_id)
    return Response(content, media_type=media_type, headers={"Cache-Control": "no-store"})


def _api_url(request: Request[Any, Any, Any]) -> str:
    """Where the API is reached: canonical URLs of our code systems and photo URLs are built on it."""
    configured: str | None = app_context(request.app.state).settings.public_url
    return configured or str(request.base_url)


@get(
    "/v1/ems/cases/{case_id:int}/fhir",
    access=CASE_READERS,
    operation_id="getEmsCaseFhir",
    media_type="application/fhir+json",
)
async def get_fhir(
    request: Request[Any, Any, Any], case_id: IdParam, caller: Me, ems: Service
) -> Response[dict[str, Any]]:
    """The handoff as a FHIR R4 document Bundle (audited): a new Bundle.identifier on every export, the
    Composition's identifier stable and its version (meta.versionId) raised whenever the content changed."""
    bundle = await ems.fhir_bundle(caller, case_id, _api_url(request))
    return Response(bundle, media_type="application/fhir+json", headers={"Cache-Control": "no-store"})


@get(JCS_PATH, access=PUBLIC, operation_id="getJcsCodeSystem", media_type="application/fhir+json")
async def jcs_code_system(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The FHIR CodeSystem the handoff codes the Japan Coma Scale in; its canonical URL is this address."""
    return Response(fhir.jcs_code_system(_api_url(request)), media_type="application/fhir+json")


@post(
    "/v1/ems/cases/{case_id:int}/requests",
    access=CREW,
    operation_id="sendEmsRequests",
    # The send writes the request's Idempotency-Key itself; a retry re-reads the case's requests to
    # the same hospitals (the service puts them in the path).
    idempotency=AnsweredByCommand("/v1/ems/cases/{case_id}/requests"),
)
async def send_requests(
    request: Request[Any, Any, Any], case_id: IdParam, data: JSONBody[RequestsCreate], caller: Me, ems: Service
) -> list[HospitalRequest]:
    """One tap, many hospitals (一斉照会): each hospital's ER sees the request live."""
    return await ems.send_requests(caller, case_id, data.hospital_ids, command_key(request))


@get("/v1/ems/cases/{case_id:int}/requests", access=CREW, operation_id="listEmsCaseRequests")
async def case_requests(
    case_id: IdParam,
    caller: Me,
    ems: Service,
    hospital_ids: Annotated[list[Id] | None, QueryParameter(name="hospitalIds", max_items=MAX_HOSPITALS)] = None,
) -> list[HospitalRequest]:
    """The case's requests to hospitals (to `hospitalIds` only, when given), oldest first, for its crew."""
    return await ems.requests_of_case(caller, case_id, hospital_ids)


@get("/v1/ems/inbox", access=ER_STAFF, operation_id="emsInbox")
async def inbox(caller: Me, ems: Service, limit: Limit = 100) -> list[InboxItem]:
    """Open requests to the caller's hospital(s), newest first (each case shown is audited)."""
    return await ems.inbox(caller, limit)


@get("/v1/ems/incoming", access=ER_STAFF, operation_id="emsIncoming")
async def incoming(
    caller: Me,
    ems: Service,
    hospital_id: Annotated[int | None, QueryParameter(name="hospitalId", ge=1, le=MAX_ID)] = None,
    limit: Limit = 100,
) -> list[IncomingCase]:
    """Patients whose destination is the caller's hospital (or `hospitalId`, one of them), not yet
    handed over: ETA, every vitals set and the photos' ids (each case shown is audited)."""
    return await ems.incoming(caller, hospital_id, limit)


@post(
    "/v1/ems/requests/{request_id:int}/response",
    access=ER_STAFF,
    operation_id="answerEmsRequest",
    # The answer writes the request's Idempotency-Key itself; a retry re-reads the request.
    idempotency=AnsweredByCommand("/v1/ems/requests/{id}"),
)
async def answer_request(
    request: Request[Any, Any, Any], request_id: IdParam, data: JSONBody[RequestResponse], caller: Me, ems: Service
) -> HospitalRequest:
    """Accept (with the department) or decline (with a structured reason)."""
    return await ems.respond(caller, request_id, data, command_key(request))


@get("/v1/ems/requests/{request_id:int}", access=ER_STAFF, operation_id="getEmsRequest")
async def get_request(request_id: IdParam, caller: Me, ems: Service) -> HospitalRequest:
    """One request to the caller's hospital, as its ER sees it (404 for anyone else)."""
    return await ems.request(caller, request_id)


@post("/v1/ems/cases/{case_id:int}/destination", access=CREW, operation_id="setEmsDestination")
async def set_destination(
    case_id: IdParam, data: JSONBody[DestinationCreate], caller: Me, ems: Service
) -> HospitalRequest:
    """Confirm one accepting hospital; the others are released and lose access. 409 if already set."""
    return await ems.set_destination(caller, case_id, data.hospital_id)


@put(
    "/v1/hospitals/{hospital_id:int}/board/{department:str}",
    access=ER_STAFF,
    operation_id="updateHospitalBoard",
)
async def update_board(
    hospital_id: IdParam,
    department: Annotated[Department, PathParameter()],
    data: JSONBody[BoardUpdate],
    caller: Me,
    ems: Service,
) -> BoardEntry:
    """Set a department's acceptance status until a time; after it, the board shows unknown."""
    return await ems.update_board(caller, hospital_id, department, data)


@get("/v1/hospitals/board", access=CASE_READERS, operation_id="hospitalBoard")
async def board(ems: Service) -> list[HospitalBoard]:
    """Every hospital's departments with their current acceptance status."""
    return await ems.board()


@get("/v1/ems/stats", access=PREFECTURE_ADMIN, operation_id="emsStats")
async def stats(
    ems: Service,
    start: Annotated[datetime | None, QueryParameter(name="from")] = None,
    end: Annotated[datetime | None, QueryParameter(name="to")] = None,
) -> EmsStats:
    """De-identified figures: inquiries per case, share needing ≥ 4 (搬送困難), time to acceptance."""
    end = end or datetime.now(UTC)
    return await ems.stats(start or end - timedelta(days=365), end)


# -- back office -------------------------------------------------------------------------


@get(
    "/v1/hospitals/{hospital_id:int}/departments",
    access=(ER_STAFF, HOSPITAL_ADMIN),
    operation_id="listHospitalDepartments",
)
async def list_departments(
    hospital_id: IdParam,
    caller: Me,
    ems: Service,
    include_retired: Annotated[bool, QueryParameter(name="includeRetired")] = False,
) -> list[HospitalDepartment]:
    """The departments the hospital runs: the only ones its board and its answers may name."""
    return await ems.departments(caller, hospital_id, include_retired)


@post(
    "/v1/hospitals/{hospital_id:int}/departments",
    access=HOSPITAL_ADMIN,
    operation_id="createHospitalDepartment",
)
async def create_department(
    hospital_id: IdParam, data: JSONBody[HospitalDepartmentCreate], caller: Me, ems: Service
) -> HospitalDepartment:
    """Add a department (or bring back a retired one); 409 if the hospital already runs it."""
    return await ems.create_department(caller, hospital_id, data)


@delete(
    "/v1/hospitals/{hospital_id:int}/departments/{department:str}",
    access=HOSPITAL_ADMIN,
    operation_id="retireHospitalDepartment",
    status_code=204,
)
async def retire_department(
    hospital_id: IdParam, department: Annotated[Department, PathParameter()], caller: Me, ems: Service
) -> None:
    """Retire a department: it leaves the board and takes no more answers."""
    await ems.retire_department(caller, hospital_id, department)


@get(
    "/v1/fire-departments/{fire_department_id:int}/cases",
    access=FIRE_STAFF,
    operation_id="listFireDepartmentCases",
)
async def list_fire_cases(
    request: Request[Any, Any, Any],
    fire_department_id: IdParam,
    caller: Me,
    ems: Service,
    day: Annotated[date | None, QueryParameter(name="date", description="Japan date the case was opened")] = None,
    case_state: Annotated[CaseState | None, QueryParameter(name="state")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[FireCase]]:
    """The department's cases by day and state (open, transporting, closed), newest first (audited)."""
    window = None
    if day is not None:
        start = datetime.combine(day, time(), TOKYO)
        window = (start, start + timedelta(days=1))
    before = before_id(cursor)
    items = await ems.fire_cases(caller, fire_department_id, window, case_state, before, limit)
    return page(request, items, limit)


@post(
    "/v1/ems/cases/{case_id:int}/close",
    access=FIRE_STAFF,
    operation_id="closeEmsCase",
    status_code=200,
)
async def close_case(case_id: IdParam, data: JSONBody[CaseClose], caller: Me, ems: Service) -> FireCase:
    """Close a case: handed over at its destination, or not transported (with a reason). Open requests
    are released; 409 if already closed, or handed over without a destination."""
    return await ems.close_case(caller, case_id, data)


router = Router(
    path="/",
    tags=["ems"],
    route_handlers=[
        open_case,
        get_case,
        add_vitals,
        add_attachment,
        get_attachment,
        get_fhir,
        jcs_code_system,
        send_requests,
        case_requests,
        inbox,
        incoming,
        answer_request,
        get_request,
        set_destination,
        update_board,
        board,
        stats,
        list_departments,
        create_department,
        retire_department,
        list_fire_cases,
        close_case,
    ],
    dependencies={"ems": Provide(ems_service, sync_to_thread=False)},
)
