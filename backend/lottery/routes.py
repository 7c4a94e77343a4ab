"""HTTP ↔ LotteryService. No rules here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from backend.core.auth import PREFECTURE_ADMIN, PUBLIC, SIGNED_IN, VERIFIED
from backend.core.command_keys import command_key
from backend.core.context import app_context
from backend.core.pagination import after_id, page
from backend.facilities.service import FACILITY_STAFF
from backend.http.idempotency import AnsweredByCommand
from backend.http.params import Cursor, IdParam, Limit, Me
from backend.lottery.service import LotteryService
from schema.lottery import (
    Application,
    ApplicationCreate,
    Lottery,
    LotteryCancel,
    LotteryCreate,
    LotteryOverview,
    LotterySummary,
    MyApplication,
)

Service = NamedDependency[LotteryService]
STAFF = (*FACILITY_STAFF, PREFECTURE_ADMIN)


def lottery_service(state: State) -> LotteryService:
    return LotteryService(app_context(state))


@post("/v1/lotteries", access=STAFF, operation_id="createLottery")
async def create_lottery(data: JSONBody[LotteryCreate], caller: Me, lotteries: Service) -> Lottery:
    """Open a lottery for resources and a month; the seed's SHA-256 (`seedCommitment`) is published now."""
    return await lotteries.create(caller, data)


@post(
    "/v1/lotteries/{lottery_id:int}/applications",
    access=VERIFIED,
    operation_id="applyToLottery",
    # The application writes the request's Idempotency-Key itself; a retry re-reads the application.
    idempotency=AnsweredByCommand("/v1/lottery-applications/{id}"),
)
async def apply(
    request: Request[Any, Any, Any],
    lottery_id: IdParam,
    data: JSONBody[ApplicationCreate],
    caller: Me,
    lotteries: Service,
) -> Application:
    """Apply with up to three ranked preferences (第1〜第3希望) while the window is open."""
    return await lotteries.apply(caller, lottery_id, data, command_key(request))


@get("/v1/lottery-applications/{application_id:int}", access=SIGNED_IN, operation_id="getLotteryApplication")
async def get_application(application_id: IdParam, caller: Me, lotteries: Service) -> Application:
    """One application, for its applicant (404 for anyone else)."""
    return await lotteries.application(caller, application_id)


@post("/v1/lotteries/{lottery_id:int}/draw", access=STAFF, operation_id="drawLottery", status_code=200)
async def draw(lottery_id: IdParam, caller: Me, lotteries: Service) -> Lottery:
    """Draw once, after closing: reveals the seed, books the winners provisionally, tells every applicant."""
    return await lotteries.run_draw(caller, lottery_id)


@get("/v1/lotteries", access=PUBLIC, operation_id="listLotteries")
async def list_lotteries(
    request: Request[Any, Any, Any],
    lotteries: Service,
    only: Annotated[Literal["open", "drawn"] | None, QueryParameter(name="state")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[LotterySummary]]:
    """Lotteries, optionally only those open for applications or already drawn."""
    items = await lotteries.lotteries(only, after_id(cursor), limit)
    return page(request, items, limit)


@get("/v1/me/lottery-applications", access=SIGNED_IN, operation_id="listMyLotteryApplications")
async def my_applications(
    request: Request[Any, Any, Any], caller: Me, lotteries: Service, cursor: Cursor = None, limit: Limit = 50
) -> Response[list[MyApplication]]:
    """The caller's applications, with the result once drawn."""
    items = await lotteries.my_applications(caller, after_id(cursor), limit)
    return page(request, items, limit)


@get("/v1/lotteries/{lottery_id:int}", access=PUBLIC, operation_id="getLottery")
async def get_lottery(lottery_id: IdParam, lotteries: Service) -> Lottery:
    """Everything needed to check the draw: commitment, pseudonymised applications, and after it the seed,
    the slots already taken and the results."""
    return await lotteries.lottery(lottery_id)


@get(
    "/v1/organizations/{organization_id:int}/lotteries",
    access=STAFF,
    operation_id="listOrganizationLotteries",
)
async def organization_lotteries(
    request: Request[Any, Any, Any],
    organization_id: IdParam,
    caller: Me,
    lotteries: Service,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response[list[LotteryOverview]]:
    """The operator's lotteries with the number of applications per slot (and first choices)."""
    items = await lotteries.organization_lotteries(caller, organization_id, after_id(cursor), limit)
    return page(request, items, limit)


@post(
    "/v1/lotteries/{lottery_id:int}/cancel",
    access=STAFF,
    operation_id="cancelLottery",
    status_code=200,
)
async def cancel_lottery(lottery_id: IdParam, data: JSONBody[LotteryCancel], caller: Me, lotteries: Service) -> Lottery:
    """Call a lottery off before its close: applicants are told the reason; the month opens to first-come booking."""
    return await lotteries.cancel(caller, lottery_id, data)


router = Router(
    path="/",
    tags=["lottery"],
    route_handlers=[
        create_lottery,
        apply,
        get_application,
        draw,
        list_lotteries,
        my_applications,
        get_lottery,
        organization_lotteries,
        cancel_lottery,
    ],
    dependencies={"lotteries": Provide(lottery_service, sync_to_thread=False)},
)
