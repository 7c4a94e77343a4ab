"""HTTP ↔ LotteryService. No rules here."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from backend.accounts.access import PREFECTURE_ADMIN, PUBLIC, SIGNED_IN, Caller
from backend.context import app_context
from backend.facilities.service import FACILITY_STAFF
from backend.lottery.service import LotteryService
from schema.base import MAX_ID
from schema.lottery import Application, ApplicationCreate, Lottery, LotteryCreate

IdParam = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
Service = NamedDependency[LotteryService]
Me = NamedDependency[Caller]
STAFF = (*FACILITY_STAFF, PREFECTURE_ADMIN)


def lottery_service(state: State) -> LotteryService:
    return LotteryService(app_context(state))


@post("/v1/lotteries", access=STAFF, operation_id="createLottery", tags=["lottery"])
async def create_lottery(data: JSONBody[LotteryCreate], caller: Me, lotteries: Service) -> Lottery:
    """Open a lottery for resources and a month; the seed's SHA-256 (`seedCommitment`) is published now."""
    return await lotteries.create(caller, data)


@post("/v1/lotteries/{lottery_id:int}/applications", access=SIGNED_IN, operation_id="applyToLottery", tags=["lottery"])
async def apply(lottery_id: IdParam, data: JSONBody[ApplicationCreate], caller: Me, lotteries: Service) -> Application:
    """Apply with up to three ranked preferences (第1〜第3希望) while the window is open."""
    return await lotteries.apply(caller, lottery_id, data)


@post(
    "/v1/lotteries/{lottery_id:int}/draw", access=STAFF, operation_id="drawLottery", status_code=200, tags=["lottery"]
)
async def draw(lottery_id: IdParam, caller: Me, lotteries: Service) -> Lottery:
    """Draw once, after closing: reveals the seed, books the winners provisionally, tells every applicant."""
    return await lotteries.run_draw(caller, lottery_id)


@get("/v1/lotteries/{lottery_id:int}", access=PUBLIC, operation_id="getLottery", tags=["lottery"])
async def get_lottery(lottery_id: IdParam, lotteries: Service) -> Lottery:
    """Everything needed to check the draw: commitment, pseudonymised applications, and after it the seed,
    the slots already taken and the results."""
    return await lotteries.lottery(lottery_id)


router = Router(
    path="/",
    route_handlers=[create_lottery, apply, draw, get_lottery],
    dependencies={"lotteries": Provide(lottery_service, sync_to_thread=False)},
)
