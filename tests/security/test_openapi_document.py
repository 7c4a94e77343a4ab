"""The served OpenAPI document tells the truth: it is valid OpenAPI 3.1, every operation says who may
call it and every error it can answer as problem+json, and request schemas are as strict as the
server's decoding. The access rules are read from the handlers themselves, so a new route that
forgets nothing in code cannot be documented wrongly."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from openapi_spec_validator import validate

from backend.core.auth import PUBLIC, access_rules
from backend.http.openapi import MUTATING

Document = dict[str, Any]


@pytest.fixture
async def document(base_url: str) -> Document:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    body: Document = response.json()
    return body


def _operations(app: Litestar, document: Document) -> list[tuple[HTTPRouteHandler, str, str, Document]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path_format not in document["paths"]:
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                operation = document["paths"][route.path_format].get(method.lower())
                if operation is not None:
                    found.append((handler, method, route.path_format, operation))
    return found


def _reachable(document: Document, node: Any, seen: set[str]) -> set[str]:
    """Names of the component schemas `node` refers to, directly or through other components."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                _reachable(document, document["components"]["schemas"][name], seen)
        for value in node.values():
            _reachable(document, value, seen)
    elif isinstance(node, list):
        for value in node:
            _reachable(document, value, seen)
    return seen


def test_the_document_is_valid_openapi(document: Document) -> None:
    validate(document)
    assert document["info"]["license"]["name"]
    assert document["info"]["contact"]["email"]


def test_every_operation_declares_its_security_as_its_handler_enforces_it(app: Litestar, document: Document) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    operations = _operations(app, document)
    assert len(operations) > 100
    wrong = []
    for handler, method, path, operation in operations:
        rules = access_rules(handler)
        assert rules is not None
        if PUBLIC in rules:
            if operation.get("security") != []:
                wrong.append(f"{method} {path}: public but security {operation.get('security')}")
        elif operation.get("security") != [{"bearerAuth": []}] or not {"401", "403"} <= set(operation["responses"]):
            wrong.append(f"{method} {path}: needs a token but documents {operation.get('security')}")
    assert wrong == []


def test_every_error_is_documented_as_problem_json(app: Litestar, document: Document) -> None:
    wrong = []
    for handler, method, path, operation in _operations(app, document):
        responses = operation["responses"]
        expected = {"503"}
        if "{" in path:
            expected.add("404")
        if operation.get("requestBody") or operation.get("parameters"):
            expected |= {"400", "422"}
        if operation.get("requestBody"):
            expected |= {"413", "415"}
        if method in MUTATING:
            expected.add("409")
        if method in MUTATING and PUBLIC in (access_rules(handler) or ()):
            expected.add("429")
        if not expected <= set(responses):
            wrong.append(f"{method} {path}: lacks {sorted(expected - set(responses))}")
        for status, response in responses.items():
            if int(status) >= 400 and set(response.get("content", {})) != {"application/problem+json"}:
                wrong.append(f"{method} {path} {status}: {sorted(response.get('content', {}))}")
            if int(status) >= 400:
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert wrong == []
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status"]
    assert {"type", "title", "status", "detail", "instance", "errors", "traceId"} == set(problem["properties"])


def test_request_schemas_refuse_unknown_fields_and_carry_every_bound(document: Document) -> None:
    names: set[str] = set()
    for item in document["paths"].values():
        for operation in item.values():
            if "requestBody" in operation:
                _reachable(document, operation["requestBody"], names)
    assert len(names) > 40
    schemas = document["components"]["schemas"]
    assert [name for name in sorted(names) if schemas[name].get("additionalProperties") is not False] == []
    unbounded = []
    for name in sorted(names):
        for field, prop in schemas[name].get("properties", {}).items():
            types = set()
            for member in prop.get("oneOf", [prop]):
                kind = member.get("type")
                types |= set(kind) if isinstance(kind, list) else {kind}
            if types & {"integer", "number"} and not {"minimum", "exclusiveMinimum"} & set(prop):
                unbounded.append(f"{name}.{field}")
    assert unbounded == []
    # `int | None` with a lower bound of 0: Litestar alone loses it.
    assert schemas["VitalsCreate"]["properties"]["sbp"]["minimum"] == 0


def test_optional_bodies_and_media_types_are_as_served(document: Document) -> None:
    by_id = {operation["operationId"]: operation for item in document["paths"].values() for operation in item.values()}
    assert by_id["createRealtimeTicket"]["requestBody"]["required"] is False
    assert by_id["cancelBooking"]["requestBody"]["required"] is False
    assert by_id["createBooking"]["requestBody"]["required"] is True
    assert list(by_id["getEmsCaseFhir"]["responses"]["200"]["content"]) == ["application/fhir+json"]
    assert list(by_id["getJcsCodeSystem"]["responses"]["200"]["content"]) == ["application/fhir+json"]
    assert list(by_id["calendarFeed"]["responses"]["200"]["content"]) == ["text/calendar"]


def test_every_schema_has_its_own_title(document: Document) -> None:
    # Client generators name classes by title: two `Session` schemas would be one class, and the
    # operations using the second would be left out of the generated client.
    titles = [schema.get("title", name) for name, schema in document["components"]["schemas"].items()]
    assert sorted(title for title in set(titles) if titles.count(title) > 1) == []
    assert document["components"]["schemas"]["childcare_Session"]["title"] == "childcare_Session"


def test_times_of_day_are_documented_as_what_the_server_writes(document: Document) -> None:
    # Litestar calls a `datetime.time` an ISO 8601 duration; a validator then refuses "09:00:00".
    assert '"duration"' not in json.dumps(document)
    opens = document["components"]["schemas"]["Resource"]["properties"]["opensAt"]
    assert opens.get("format") is None
    assert re.fullmatch(opens["pattern"], "09:00:00")
    assert not re.fullmatch(opens["pattern"], "PT9H")
