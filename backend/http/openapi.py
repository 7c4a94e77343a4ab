"""The OpenAPI document, completed from the declarations the code itself obeys.

Litestar derives paths, parameters and bodies from the handlers, but knows nothing of our access
rules (backend/core/auth.py), our problem+json errors (backend/core/errors.py) or the strict body decoding
(backend/http/validation.py). `complete_openapi` adds them in one pass over the routes, so the document
follows each handler's `access=` and signature instead of being annotated handler by handler:
the security requirement, every status an operation can answer as application/problem+json,
`additionalProperties: false` and the numeric bounds of request bodies, and optional bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Contact,
    License,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from backend.core.auth import PUBLIC, access_rules
from backend.core.errors import PROBLEM_BASE, PROBLEM_JSON

BEARER = "bearerAuth"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Why each status may come back; the same sentence for every operation that can answer it.
_WHY: dict[int, str] = {
    400: "The body is not valid JSON (`malformed-json`).",
    401: "No valid bearer token (`unauthorized`).",
    403: "The caller's roles do not allow this (`forbidden`), or the e-mail address is not verified yet"
    " (`email-not-verified`).",
    404: "Not found, or outside the caller's organisations (`not-found`).",
    409: "Conflicts with the current state (`conflict` or a more specific slug), or an Idempotency-Key"
    " reused with another body.",
    413: "The body is larger than the server accepts (`body-too-large`).",
    415: "The body is not sent as application/json (`unsupported-media-type`).",
    422: "A field, path or query parameter is not valid (`validation`, `invalid-parameter`); `errors`"
    " names each one by its JSON path.",
    429: "Too many attempts from this account or address (`too-many-requests`); see Retry-After.",
    503: "The database did not answer or was busy (`unavailable`, `busy`); nothing was changed, retry"
    " with the same Idempotency-Key after Retry-After.",
}

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    title="Problem",
    description="RFC 9457 problem details. `type` is a stable URI (" + PROBLEM_BASE + "<slug>) clients may"
    " switch on; further members may be added.",
    required=["type", "title", "status"],
    properties={
        "type": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI, examples=[PROBLEM_BASE + "not-found"]),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING, description="The path of the request."),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING, description="JSON path, e.g. `$.items[0].name`."),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
        "traceId": Schema(type=OpenAPIType.STRING, description="Leads to the request's log lines and trace."),
    },
)
BEARER_SCHEME = SecurityScheme(
    type="http", scheme="bearer", description="A session token (`msb_…`) from POST /v1/sessions."
)


def statuses(handler: HTTPRouteHandler, method: str, has_params: bool, has_path_ids: bool) -> list[int]:
    """Every error status this operation can answer, following its declarations."""
    rules = access_rules(handler) or ()
    public = PUBLIC in rules
    body = "data" in handler.parsed_fn_signature.parameters
    # Statuses the rules below cannot infer, declared on the handler: `@get(..., answers=(404,))`.
    answers = {503, *handler.opt.get("answers", ())}
    # A public handler that asks who is calling still refuses an unknown token.
    if not public or "caller" in handler.resolve_dependencies() or "caller" in handler.parsed_fn_signature.parameters:
        answers.add(401)
    if not public:
        answers.add(403)
    if has_path_ids or body:
        answers.add(404)  # an id in the path, query or body that does not exist or is not the caller's
    if body or has_params:
        answers.update({400, 422})
    if method in MUTATING:
        answers.add(409)
    if body:
        answers.update({413, 415})
    if public and method in MUTATING:
        # Logins and password resets are throttled, and so are anonymous Idempotency-Keys.
        answers.add(429)
    return sorted(answers)


def _operations(app: Litestar, document: OpenAPI) -> Iterator[tuple[HTTPRouteHandler, str, Operation, str]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or document.paths is None:
            continue
        item = document.paths.get(route.path_format or "/")
        if item is None:
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation):
                    yield handler, method, operation, route.path_format


def complete_openapi(app: Litestar, document: OpenAPI) -> OpenAPI:
    """Add security, problem responses and strict request schemas to Litestar's document, in place."""
    document.info.license = document.info.license or _license()
    document.info.contact = document.info.contact or _contact()
    components = document.components
    schemas = components.schemas
    schemas["Problem"] = PROBLEM_SCHEMA
    components.security_schemes = {BEARER: BEARER_SCHEME}
    request_types: set[type[msgspec.Struct]] = set()
    for handler, method, operation, path in _operations(app, document):
        rules = access_rules(handler) or ()
        operation.security = [] if PUBLIC in rules else [{BEARER: []}]
        parameters = operation.parameters or []
        _carry_parameter_bounds(handler, parameters)
        has_params = bool(parameters)
        # An id in the path or the query (`childId`) may name nothing the caller can see.
        has_path_ids = "{" in path or any(
            isinstance(p, Parameter) and p.param_in != "header" and p.name.endswith(("Id", "_id")) for p in parameters
        )
        responses = operation.responses or {}
        _document_csv(parameters, responses)
        # Litestar's default 400 describes its own error shape, which never reaches the wire.
        responses.pop("400", None)
        for status in statuses(handler, method, has_params, has_path_ids):
            responses[str(status)] = OpenAPIResponse(
                description=_WHY[status],
                content={PROBLEM_JSON: _media(Reference(ref="#/components/schemas/Problem"))},
            )
        operation.responses = responses
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None and isinstance(operation.request_body, RequestBody):
            # validate_json_body lets an optional body be left out entirely.
            operation.request_body.required = not data.has_default
            request_types.update(_structs(data.annotation))
    _tighten_request_schemas(schemas, request_types)
    _unique_titles(schemas)
    for schema in schemas.values():
        _times_of_day(schema)
    return document


# What msgspec writes for a `datetime.time` (always with seconds; our inputs also take HH:MM).
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$"


def _times_of_day(schema: Any) -> None:
    """Litestar documents a `datetime.time` as an ISO 8601 *duration*; the API has no durations,
    only wall-clock times in Asia/Tokyo such as a resource's opening hours ("09:00:00")."""
    if not isinstance(schema, Schema):
        return
    if schema.format == OpenAPIFormat.DURATION:
        schema.format = None
        schema.pattern = TIME_OF_DAY_PATTERN
        schema.description = schema.description or "Time of day in Asia/Tokyo, HH:MM:SS"
    for child in [*(schema.properties or {}).values(), *(schema.one_of or []), *(schema.any_of or []),
                  *(schema.all_of or []), schema.items]:  # fmt: skip
        _times_of_day(child)


def _unique_titles(schemas: dict[str, Any]) -> None:
    """Two Structs of one name in different contexts (a nursery `Session`, a login session) get
    component names Litestar prefixes (`childcare_Session`) but keep their shared title, and client
    generators name classes by title: give those the component's name, so each class is distinct."""
    by_title: dict[str, list[str]] = {}
    for name, schema in schemas.items():
        if title := getattr(schema, "title", None):
            by_title.setdefault(title, []).append(name)
    for names in by_title.values():
        if len(names) > 1:
            for name in names:
                schemas[name].title = name


def _tighten_request_schemas(schemas: dict[str, Any], types: set[type[msgspec.Struct]]) -> None:
    by_title: dict[str, list[Any]] = {}
    for schema in schemas.values():
        title = getattr(schema, "title", None)
        if title:
            by_title.setdefault(title, []).append(schema)
    for struct in types:
        info = msgspec.inspect.type_info(struct)
        assert isinstance(info, msgspec.inspect.StructType)
        for schema in by_title.get(struct.__name__, []):
            if info.forbid_unknown_fields:
                schema.additional_properties = False
            for field in info.fields:
                prop = (schema.properties or {}).get(field.encode_name)
                if prop is not None:
                    _carry_bounds(prop, field.type)


_BOUNDS = (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusive_minimum"), ("lt", "exclusive_maximum"))


def _carry_bounds(prop: Any, kind: msgspec.inspect.Type) -> None:
    """The bounds msgspec enforces. (Litestar drops a bound of 0 on `int | None`, being falsy.)"""
    for member in kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,):
        if isinstance(member, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            for constraint, keyword in _BOUNDS:
                value = getattr(member, constraint)
                # Always from msgspec: Litestar's bounds are floats, and 2**63 - 1 does not survive that.
                if value is not None:
                    setattr(prop, keyword, value)


def _document_csv(parameters: list[Any], responses: dict[str, Any]) -> None:
    """A `format` query parameter offering csv means the 200 may also be text/csv (or Accept: text/csv)."""
    offers_csv = any(
        isinstance(p, Parameter) and p.name == "format" and "csv" in _enum_values(p.schema) for p in parameters
    )
    ok = responses.get("200")
    if offers_csv and isinstance(ok, OpenAPIResponse) and ok.content is not None:
        ok.content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


def _enum_values(schema: Any) -> list[Any]:
    if not isinstance(schema, Schema):
        return []
    values = list(schema.enum or [])
    for member in schema.one_of or []:
        values.extend(_enum_values(member))
    return values


def _carry_parameter_bounds(handler: HTTPRouteHandler, parameters: list[Any]) -> None:
    """Exact integer bounds of path and query parameters (Litestar writes them as floats: an id of
    2**63 would look valid)."""
    by_name = {}
    for name, field in handler.parsed_fn_signature.parameters.items():
        definition = field.kwarg_definition
        alias = getattr(definition, "query", None) or getattr(definition, "name", None) or name
        by_name[alias] = definition
    for parameter in parameters:
        definition = by_name.get(parameter.name)
        schema = parameter.schema
        if definition is None or not isinstance(schema, Schema):
            continue
        for constraint, keyword in _BOUNDS:
            value = getattr(definition, constraint, None)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(schema, keyword, value)


def _structs(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    """Every Struct a body of this type may contain (nested ones too)."""
    seen: set[type[msgspec.Struct]] = set()
    stack = [msgspec.inspect.type_info(annotation)]
    while stack:
        info = stack.pop()
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                continue
            seen.add(info.cls)
            yield info.cls
            stack.extend(field.type for field in info.fields)
        elif isinstance(info, msgspec.inspect.UnionType):
            stack.extend(info.types)
        elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType):
            stack.append(info.item_type)
        elif isinstance(info, msgspec.inspect.DictType):
            stack.append(info.value_type)
        elif isinstance(info, msgspec.inspect.Metadata):
            stack.append(info.type)


def _media(schema: Reference) -> OpenAPIMediaType:
    return OpenAPIMediaType(schema=schema)


def _license() -> License:
    return License(name="Proprietary: the prefecture and its municipalities", url="https://musubi.jp/terms")


def _contact() -> Contact:
    return Contact(name="Musubi operations", email="api@musubi.jp", url="https://musubi.jp/developers")
