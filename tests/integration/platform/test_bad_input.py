"""Bad input to every endpoint gets a 4xx problem+json and changes nothing.

Endpoints come from the app's own OpenAPI document, so a new endpoint is covered the day it
is added. The caller holds every role in an organisation of every kind, so requests pass the
access rules and reach validation.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support import Actor, Actors, assert_problem, table_counts

KINDS = (
    "municipality",
    "facility_operator",
    "nursery",
    "guidance_center",
    "shelter",
    "fire_department",
    "hospital",
    "prefecture",
)
ROLES = ("admin", "staff", "caseworker", "paramedic", "er_staff")
WRONG_VALUE = {"string": 12345, "integer": "7", "number": "seven", "boolean": "yes", "array": {"a": 1}, "object": [1]}


async def everything_caller(actors: Actors) -> Actor:
    caller = await actors.resident()
    for kind in KINDS:
        organization = await actors.organization(kind)
        for role in ROLES:
            await actors.grant(caller, organization, role)
    return caller


Operation = tuple[str, str, dict[str, Any] | None, bool, dict[str, Any]]


async def operations(http: httpx.AsyncClient) -> list[Operation]:
    """(method, concrete path, body schema or None, body required, components) of every operation."""
    document = (await http.get("/schema/openapi.json")).json()
    components = document.get("components", {}).get("schemas", {})
    found = []
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            request_body = operation.get("requestBody", {})
            body = request_body.get("content", {}).get("application/json", {}).get("schema")
            schema = resolve(body, components) if body else None
            # Litestar marks every body required; an optional one shows as oneOf [..., null].
            nullable = bool(body) and any(o.get("type") == "null" for o in body.get("oneOf", []))
            required = request_body.get("required", False) and not nullable
            found.append((method.upper(), concrete, schema, required, components))
    assert len(found) >= 6
    return found


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Follow $refs, and from a oneOf/anyOf take the first option that is not null."""
    while True:
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        elif "oneOf" in schema or "anyOf" in schema:
            schema = next(o for o in schema.get("oneOf", schema.get("anyOf", [])) if o.get("type") != "null")
        else:
            return schema


def property_types(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, str]:
    types = {}
    for name, prop in schema.get("properties", {}).items():
        kind = resolve(prop, components).get("type", "string")
        # OpenAPI 3.1 writes nullable types as lists: ["integer", "null"].
        types[name] = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    return types


def bad_bodies(schema: dict[str, Any], required: bool, components: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """(label, raw body, content type) of requests that must all be refused."""
    import json

    types = property_types(schema, components)
    cases = [
        ("malformed json", b'{"email": "a@b.jp",', "application/json"),
        ("not an object", b"[1, 2, 3]", "application/json"),
        ("wrong types", json.dumps({n: WRONG_VALUE[t] for n, t in types.items()}).encode(), "application/json"),
        ("unknown field only", b'{"surelyNotAField": 1}', "application/json"),
        ("form instead of json", b"email=a%40b.jp", "application/x-www-form-urlencoded"),
        ("huge body", b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}', "application/json"),
    ]
    if required:
        cases.append(("empty body", b"", "application/json"))
    if schema.get("required"):
        cases.append(("missing fields", b"{}", "application/json"))
    for name, kind in types.items():
        if kind == "string":
            cases.append((f"oversized {name}", json.dumps({name: "あ" * 20_000}).encode(), "application/json"))
    return cases


async def test_every_endpoint_refuses_bad_bodies_without_changes(
    http: httpx.AsyncClient, actors: Actors, db: asyncpg.Pool
) -> None:
    caller = await everything_caller(actors)
    before = await table_counts(db)
    checked = 0
    for method, path, schema, required, components in await operations(http):
        if schema is None:
            continue
        for label, body, content_type in bad_bodies(schema, required, components):
            response = await http.request(
                method, path, content=body, headers={**caller.headers, "content-type": content_type}
            )
            assert 400 <= response.status_code < 500, (
                f"{method} {path} [{label}] → {response.status_code} {response.text}"
            )
            assert_problem(response, response.status_code)
            checked += 1
    assert checked > 30
    assert await table_counts(db) == before


async def test_validation_problems_name_the_field(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/accounts", json={"email": "a@b.jp", "password": 1234567890, "displayName": "A"})
    problem = assert_problem(response, 422, "validation")
    assert problem["errors"] == [{"field": "$.password", "message": "Expected `str`, got `int`"}]

    response = await http.post("/v1/accounts", json={"email": "a@b.jp", "displayName": "A"})
    assert assert_problem(response, 422)["errors"][0]["field"] == "$.password"

    response = await http.post(
        "/v1/accounts", json={"email": "a@b.jp", "password": "x" * 20, "displayName": "A", "age": 3}
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "$.age"


async def test_strings_are_not_coerced_to_numbers(http: httpx.AsyncClient, actors: Actors) -> None:
    admin = await actors.prefecture_admin()
    response = await http.post(
        "/v1/organizations", json={"kind": "hospital", "name": "X", "municipalityId": "1"}, headers=admin.headers
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "$.municipalityId"


@pytest.mark.parametrize(
    "path",
    ["/v1/organizations/abc/members", "/v1/organizations/0/members", "/v1/organizations/99999999999999999999/members"],
)
async def test_bad_path_parameters_get_4xx(http: httpx.AsyncClient, actors: Actors, path: str) -> None:
    admin = await actors.prefecture_admin()
    response = await http.post(path, json={"email": "a@b.jp", "role": "staff"}, headers=admin.headers)
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)


async def test_unknown_path_and_method_are_problems(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get("/v1/nothing-here"), 404, "not-found")
    assert_problem(await http.put("/health"), 405, "method-not-allowed")
