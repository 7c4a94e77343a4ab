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
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from backend.errors import BadRequest, DomainError, Unprocessable, field_errors_from_msgspec
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


async def validate_json_body(request: Request[Any, Any, Any]) -> None:
    handler = request.route_handler
    if not isinstance(handler, HTTPRouteHandler):
        return
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
