"""Strict request-body validation, run before Litestar builds handler arguments.

Litestar converts bodies with msgspec in lax mode (the string "7" becomes the integer 7) and
reports errors without JSON paths. Here every JSON body is decoded once, strictly, against
the handler's declared `data` type, so wrong types, unknown fields and out-of-range values
answer 422 with a `$.path` per error, malformed JSON 400, and a non-JSON body 415 — before
any handler code runs. Litestar's own decoding afterwards cannot fail and is kept for the
OpenAPI schema it derives from the same annotation.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any, get_args

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from backend.core.errors import BadRequest, DomainError, Unprocessable, field_errors_from_msgspec
from schema.base import FieldError


class UnsupportedMediaType(DomainError):
    status = 415
    slug = "unsupported-media-type"
    title = "Send the body as application/json"


@functools.cache
def _decoder_for(handler: HTTPRouteHandler) -> tuple[msgspec.json.Decoder[Any], bool] | None:
    """The strict decoder for the handler's `data`, and whether the body may be omitted."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    return msgspec.json.Decoder(data.annotation, strict=True), data.has_default


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


@functools.cache
def _time_queries(handler: HTTPRouteHandler) -> tuple[tuple[str, type], ...]:
    """(query name, date or datetime) of each time-valued query parameter of the handler."""
    found = []
    for name, field in handler.parsed_fn_signature.parameters.items():
        kinds = [kind for kind in (field.annotation, *get_args(field.annotation)) if kind in (date, datetime)]
        if kinds and not field.is_di_field:
            found.append((_query_name(name, field.kwarg_definition), kinds[0]))
    return tuple(found)


def _query_name(name: str, definition: Any) -> str:
    # Parameter(query="to") and QueryParameter(name="to") both rename the query key.
    return getattr(definition, "query", None) or getattr(definition, "name", None) or name


def _check_time_queries(request: Request[Any, Any, Any], handler: HTTPRouteHandler) -> None:
    """Dates and times in the query as RFC 3339 text only: Litestar would also take `to=0.5` as a Unix
    timestamp, which the document (format date-time) does not promise and no client means."""
    for name, kind in _time_queries(handler):
        value = request.query_params.get(name)
        if value is None:
            continue
        try:
            msgspec.json.decode(msgspec.json.encode(value), type=kind, strict=True)
        except msgspec.ValidationError as exc:
            raise BadRequest(
                f"Validation failed for {request.method} {request.url.path}",
                slug="invalid-parameter",
                title="A path or query parameter is not valid",
                errors=[FieldError(field=f"query.{name}", message=str(exc))],
            ) from None


async def validate_json_body(request: Request[Any, Any, Any]) -> None:
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler):
        return
    _check_time_queries(request, handler)
    found = _decoder_for(handler)
    if found is None:
        return
    decoder, optional = found
    body = await request.body()
    if not body.strip():
        if optional:
            return
        raise Unprocessable(
            "This endpoint needs a JSON body.", errors=[FieldError(field="$", message="Body is required")]
        )
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(f"Got {request.headers.get('content-type') or 'no content type'}.")
    try:
        decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise Unprocessable(errors=field_errors_from_msgspec(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(str(exc), slug="malformed-json", title="The body is not valid JSON") from None
