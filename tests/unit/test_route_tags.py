"""Tags come from the context's Router, never from a handler: each operation in the document sits
under exactly one tag, the one of the context (backend/<context>/) that serves it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from backend.core.settings import Settings
from backend.http.app import create_app


@pytest.fixture(scope="module")
def app() -> Litestar:
    # The document is built from the routes alone; nothing connects to this database.
    return create_app(Settings(database_url="postgresql://unused@localhost/unused"))


def _handlers(app: Litestar) -> list[HTTPRouteHandler]:
    return [handler for route in app.routes if isinstance(route, HTTPRoute) for handler in route.route_handlers]


def _context(handler: HTTPRouteHandler) -> str:
    """`backend.<context>.routes` → the context; the plumbing's own (health, metrics, in
    backend/http/ and backend/core/) are the service's."""
    parts = handler.fn.__module__.split(".")
    return "service" if parts[1] in ("core", "http") else parts[1]


def test_no_handler_declares_its_own_tags(app: Litestar) -> None:
    declared = [handler.handler_name for handler in _handlers(app) if handler.tags]
    assert declared == []


def test_every_operation_has_exactly_its_contexts_tag(app: Litestar) -> None:
    document: dict[str, Any] = app.openapi_schema.to_schema()
    context_of = {handler.operation_id: _context(handler) for handler in _handlers(app)}
    operations = [operation for item in document["paths"].values() for operation in item.values()]
    assert len(operations) > 100
    wrong = [
        f"{operation['operationId']}: {operation.get('tags')}"
        for operation in operations
        if operation.get("tags") != [context_of[operation["operationId"]]]
    ]
    assert wrong == []
