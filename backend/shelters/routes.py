"""HTTP ↔ ShelterService. No rules here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter

from backend.auth import PREFECTURE_ADMIN
from backend.context import app_context
from backend.idempotency import Reread
from backend.pagination import after_id, before_id, page
from backend.params import Cursor, IdParam, Limit, Me
from backend.shelters.service import CASEWORKER, SHELTER_STAFF, ShelterService
from schema.base import MAX_ID
from schema.shelters import (
    CATEGORY_PATTERN,
    CurrentPlacement,
    IntakeCancel,
    IntakeRequest,
    IntakeRequestCreate,
    IntakeResponseCreate,
    IntakeSummary,
    Placement,
    PlacementCreate,
    PlacementStats,
    ShelterCategory,
    ShelterCategoryCreate,
    ShelterCategoryUpdate,
    Target,
    UnitUpdate,
    Vacancy,
)

Service = NamedDependency[ShelterService]
INVOLVED = (CASEWORKER, *SHELTER_STAFF)
CategoryParam = Annotated[str, PathParameter(pattern=CATEGORY_PATTERN)]


def shelter_service(state: State) -> ShelterService:
    return ShelterService(app_context(state))


@put(
    "/v1/shelters/{shelter_id:int}/units/{category:str}",
    access=SHELTER_STAFF,
    operation_id="setShelterUnit",
)
async def set_unit(
    shelter_id: IdParam,
    category: Annotated[str, PathParameter(pattern=CATEGORY_PATTERN)],
    data: JSONBody[UnitUpdate],
    caller: Me,
    shelters: Service,
) -> Vacancy:
    """Set the beds of one category (e.g. 6-12:female, special). 409 below the beds in use."""
    return await shelters.set_capacity(caller, shelter_id, category, data.capacity)


@get("/v1/shelters/vacancies", access=INVOLVED, operation_id="shelterVacancies")
async def vacancies(
    shelters: Service,
    shelter_id: Annotated[int | None, QueryParameter(name="shelterId", ge=1, le=MAX_ID)] = None,
) -> list[Vacancy]:
    """The live vacancy board: capacity and occupancy per shelter and category."""
    return await shelters.vacancies(shelter_id)


@post("/v1/intake-requests", access=CASEWORKER, operation_id="createIntakeRequest")
async def create_request(data: JSONBody[IntakeRequestCreate], caller: Me, shelters: Service) -> IntakeRequest:
    """One request, many shelters: age, sex, category, needs, urgency — never the child's name."""
    return await shelters.create_request(caller, data)


@get("/v1/intake-requests", access=INVOLVED, operation_id="listIntakeRequests")
async def list_requests(
    request: Request[Any, Any, Any], caller: Me, shelters: Service, cursor: Cursor = None, limit: Limit = 50
) -> Response[list[IntakeRequest]]:
    """The centre's requests (caseworkers) or those sent to the shelter (staff), newest first (audited)."""
    before = before_id(cursor)
    items = await shelters.requests(caller, before, limit)
    return page(request, items, limit)


@get("/v1/intake-requests/{request_id:int}", access=INVOLVED, operation_id="getIntakeRequest")
async def get_request(request_id: IdParam, caller: Me, shelters: Service) -> IntakeRequest:
    """One request; the child's identity only for the centre and, after placement, the chosen shelter (audited)."""
    return await shelters.request(caller, request_id)


@post(
    "/v1/intake-requests/{request_id:int}/responses",
    access=SHELTER_STAFF,
    operation_id="answerIntakeRequest",
)
async def respond(request_id: IdParam, data: JSONBody[IntakeResponseCreate], caller: Me, shelters: Service) -> Target:
    """The shelter can or cannot take the child (with a reason when not)."""
    return await shelters.respond(caller, request_id, data)


@post(
    "/v1/intake-requests/{request_id:int}/placement",
    access=CASEWORKER,
    operation_id="placeChild",
    # The answer names the child: a retry re-reads it (access-checked, audited), nothing is kept in clear.
    idempotency=Reread("/v1/intake-requests/{id}"),
)
async def place(request_id: IdParam, data: JSONBody[PlacementCreate], caller: Me, shelters: Service) -> IntakeRequest:
    """Confirm one accepting shelter: takes a bed atomically, closes the others, and only now shares who the child is.
    409 if already placed or the shelter is full."""
    return await shelters.place(caller, request_id, data)


@post(
    "/v1/placements/{placement_id:int}/discharge",
    access=INVOLVED,
    operation_id="dischargePlacement",
    status_code=200,
)
async def discharge(placement_id: IdParam, caller: Me, shelters: Service) -> Placement:
    """The child leaves; the bed is free again."""
    return await shelters.discharge(caller, placement_id)


@get("/v1/intake-stats", access=PREFECTURE_ADMIN, operation_id="intakeStats")
async def stats(
    shelters: Service,
    start: Annotated[datetime | None, QueryParameter(name="from")] = None,
    end: Annotated[datetime | None, QueryParameter(name="to")] = None,
) -> PlacementStats:
    """Minutes from request to placement (the prefecture's own figures)."""
    end = end or datetime.now(UTC)
    return await shelters.placement_stats(start or end - timedelta(days=365), end)


# -- back office -------------------------------------------------------------------------


@get(
    "/v1/shelters/{shelter_id:int}/categories",
    access=SHELTER_STAFF,
    operation_id="listShelterCategories",
)
async def list_categories(
    shelter_id: IdParam,
    caller: Me,
    shelters: Service,
    include_retired: Annotated[bool, QueryParameter(name="includeRetired")] = False,
) -> list[ShelterCategory]:
    """The shelter's bed categories with their names, beds and occupancy."""
    return await shelters.categories(caller, shelter_id, include_retired)


@post(
    "/v1/shelters/{shelter_id:int}/categories",
    access=SHELTER_STAFF,
    operation_id="createShelterCategory",
)
async def create_category(
    shelter_id: IdParam, data: JSONBody[ShelterCategoryCreate], caller: Me, shelters: Service
) -> ShelterCategory:
    """Add a bed category (or bring back a retired one); 409 if the shelter already has it."""
    return await shelters.create_category(caller, shelter_id, data)


@patch(
    "/v1/shelters/{shelter_id:int}/categories/{category:str}",
    access=SHELTER_STAFF,
    operation_id="updateShelterCategory",
)
async def update_category(
    shelter_id: IdParam,
    category: CategoryParam,
    data: JSONBody[ShelterCategoryUpdate],
    caller: Me,
    shelters: Service,
) -> ShelterCategory:
    """Rename a category or change its beds (409 below the beds in use)."""
    return await shelters.update_category(caller, shelter_id, category, data)


@delete(
    "/v1/shelters/{shelter_id:int}/categories/{category:str}",
    access=SHELTER_STAFF,
    operation_id="retireShelterCategory",
    status_code=204,
)
async def retire_category(shelter_id: IdParam, category: CategoryParam, caller: Me, shelters: Service) -> None:
    """Retire a category nobody occupies (409 otherwise): it takes no more placements."""
    await shelters.retire_category(caller, shelter_id, category)


@get(
    "/v1/shelters/{shelter_id:int}/placements",
    access=SHELTER_STAFF,
    operation_id="listCurrentPlacements",
)
async def list_placements(
    request: Request[Any, Any, Any],
    shelter_id: IdParam,
    caller: Me,
    shelters: Service,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[CurrentPlacement]]:
    """The children placed here now, with who they are (this shelter was chosen); each one shown is audited."""
    items = await shelters.current_placements(caller, shelter_id, after_id(cursor), limit)
    return page(request, items, limit)


@get(
    "/v1/guidance-centers/{center_id:int}/intake-requests",
    access=CASEWORKER,
    operation_id="listCenterIntakeRequests",
)
async def list_center_requests(
    request: Request[Any, Any, Any],
    center_id: IdParam,
    caller: Me,
    shelters: Service,
    status: Annotated[Literal["open", "placed", "cancelled"] | None, QueryParameter()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[IntakeSummary]]:
    """The centre's requests by state, newest first, with minutes to placement (no identities)."""
    before = before_id(cursor)
    items = await shelters.center_requests(caller, center_id, status, before, limit)
    return page(request, items, limit)


@post(
    "/v1/intake-requests/{request_id:int}/cancel",
    access=CASEWORKER,
    operation_id="cancelIntakeRequest",
    status_code=200,
)
async def cancel_request(
    request_id: IdParam, data: JSONBody[IntakeCancel], caller: Me, shelters: Service
) -> IntakeSummary:
    """Cancel an open request with a reason; every shelter still part of it is told (409 once placed)."""
    return await shelters.cancel(caller, request_id, data)


router = Router(
    path="/",
    tags=["shelters"],
    route_handlers=[
        set_unit,
        vacancies,
        create_request,
        list_requests,
        get_request,
        respond,
        place,
        discharge,
        stats,
        list_categories,
        create_category,
        update_category,
        retire_category,
        list_placements,
        list_center_requests,
        cancel_request,
    ],
    dependencies={"shelters": Provide(shelter_service, sync_to_thread=False)},
)
