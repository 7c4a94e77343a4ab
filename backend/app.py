"""create_app(): routes, dependencies, error handling and lifecycle in one place."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend import tracing
from backend.accounts.routes import router as accounts_router
from backend.analytics.routes import router as analytics_router
from backend.auth import PUBLIC, Caller, access_rules, current_caller, enforce_access
from backend.calendars.routes import router as calendars_router
from backend.childcare.routes import router as childcare_router
from backend.clock import Clock, SystemClock
from backend.context import open_context
from backend.ems.routes import router as ems_router
from backend.errors import exception_handlers
from backend.facilities.backoffice_routes import router as facility_back_office_router
from backend.facilities.routes import router as facilities_router
from backend.health import health, ready
from backend.idempotency import IdempotencyMiddleware
from backend.logs import RequestLogMiddleware
from backend.lottery.routes import router as lottery_router
from backend.metrics import HttpMetricsMiddleware, metrics_endpoint
from backend.openapi import complete_openapi
from backend.organizations.routes import router as organizations_router
from backend.push.routes import router as push_router
from backend.settings import Settings, get_settings
from backend.shelters.routes import router as shelters_router
from backend.statement_count import StatementCountMiddleware
from backend.validation import validate_json_body

log = logging.getLogger("musubi.app")

OPENAPI_PATH = "/schema"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Litestar:
    settings = settings or get_settings()
    if settings.database_url is None:
        raise RuntimeError("create_app needs settings.database_url; `musubi serve` starts an embedded one")
    the_clock = clock or SystemClock()
    tracing.configure_tracing("api")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.ctx = await open_context(settings, the_clock)
        try:
            yield
        finally:
            await app.state.ctx.close()

    app = Litestar(
        route_handlers=[
            Router(path="/", tags=["service"], route_handlers=[health, ready, metrics_endpoint]),
            accounts_router,
            organizations_router,
            facilities_router,
            calendars_router,
            facility_back_office_router,
            lottery_router,
            childcare_router,
            shelters_router,
            ems_router,
            push_router,
            analytics_router,
        ],
        dependencies={"caller": Provide(current_caller)},
        signature_namespace={"Caller": Caller},
        guards=[enforce_access],
        before_request=validate_json_body,
        middleware=[
            # Bench only, outermost so that the Idempotency-Key's statements count too.
            *([StatementCountMiddleware()] if settings.count_statements else []),
            HttpMetricsMiddleware(),
            RequestLogMiddleware(),
            # The client address (login throttling, anonymous Idempotency-Keys) comes from
            # X-Forwarded-For only when the peer is a configured proxy, taking the right-most
            # address that is not one: the app decides, so the server must not (`proxy_headers=False`).
            # (uvicorn and Litestar spell the same ASGI types differently.)
            DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies)),  # type: ignore[arg-type]
            IdempotencyMiddleware(),
        ],
        exception_handlers=exception_handlers(),
        request_max_body_size=settings.max_body_bytes,
        lifespan=[lifespan],
        plugins=tracing.litestar_plugins(),
        # Logging is the process's business (backend/logs.py): Litestar would reconfigure the root logger.
        logging_config=None,
        # The documents only (openapi.json/.yaml): the interactive renderers load their code from a CDN.
        openapi_config=OpenAPIConfig(title="Musubi", version="1.0.0", path=OPENAPI_PATH, render_plugins=[]),
        debug=False,
    )
    _declare_access_everywhere(app)
    # Built now (a third of a second) so that the document served is the completed one.
    complete_openapi(app, app.openapi_schema)
    return app


def _declare_access_everywhere(app: Litestar) -> None:
    """Fail at start-up, not in production, when a handler forgot its `access` rules."""
    missing = []
    for route in app.routes:
        for handler in route.route_handlers:  # type: ignore[union-attr]
            if access_rules(handler) is not None:
                continue
            # Litestar's own handlers: the OpenAPI documents and automatic OPTIONS answers.
            if route.path.startswith(OPENAPI_PATH) or getattr(handler, "http_methods", None) == {"OPTIONS"}:
                handler.opt["access"] = PUBLIC
            else:
                missing.append(f"{route.path} ({handler})")
    if missing:
        raise RuntimeError("handlers without access rules: " + ", ".join(missing))
