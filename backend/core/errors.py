"""The one place where failures become RFC 9457 problem+json responses.

Services raise `DomainError` subclasses; the database raises constraint violations; Litestar
raises HTTP exceptions for routing, size and parameter errors. All of them end up here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from schema.base import FieldError, Problem

log = logging.getLogger("musubi.errors")

PROBLEM_BASE = "https://musubi.jp/problems/"
PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        title: str | None = None,
        slug: str | None = None,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})
        if title:
            self.title = title
        if slug:
            self.slug = slug


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="musubi"'}, **kwargs)


class Forbidden(DomainError):
    status = 403
    slug = "forbidden"
    title = "Your role does not allow this"


class NotFound(DomainError):
    """Also the answer for things that exist but are outside the caller's organisations."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class Unprocessable(DomainError):
    status = 422
    slug = "validation"
    title = "The request body is not valid"


class TooManyRequests(DomainError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))}, **kwargs)


class IntegrityFailure(DomainError):
    """Stored data failed its own integrity check (e.g. an AES-GCM tag): a server fault, logged loudly."""

    status = 500
    slug = "record-integrity"
    title = "A stored record failed its integrity check"


class ServiceUnavailable(DomainError):
    status = 503
    slug = "unavailable"
    title = "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": "1"}, **kwargs)


# Constraint name → (status, slug, title). Contexts register the constraints whose meaning
# they own, so a 409 says "slot already booked" rather than "unique violation".
_CONSTRAINT_PROBLEMS: dict[str, tuple[int, str, str]] = {}


def register_constraint(name: str, status: int, slug: str, title: str) -> None:
    _CONSTRAINT_PROBLEMS[name] = (status, slug, title)


register_constraint("accounts_email_key", 409, "email-taken", "An account with this e-mail already exists")
register_constraint("memberships_pkey", 409, "already-member", "The account already has this role here")

_DEFAULT_BY_SQLSTATE: dict[type[Exception], tuple[int, str, str]] = {
    asyncpg.ExclusionViolationError: (409, "conflict", "Conflicts with an existing reservation"),
    asyncpg.UniqueViolationError: (409, "conflict", "Already exists"),
    asyncpg.CheckViolationError: (409, "conflict", "Would break a limit (for example capacity)"),
    asyncpg.ForeignKeyViolationError: (422, "unknown-reference", "Refers to something that does not exist"),
}

# Failures of the database itself rather than of the request: answer 503 fast so clients
# retry with their Idempotency-Key instead of waiting on a dead connection.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # 57xxx: shutting down, starting up, crash recovery, statement timeout (QueryCanceledError).
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
    # A connection that broke mid-operation ("cannot switch to state …"), e.g. while the server restarts.
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def problem_response(
    status: int,
    slug: str,
    title: str,
    *,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    body = msgspec.json.encode(
        Problem(
            type=PROBLEM_BASE + slug,
            title=title,
            status=status,
            detail=detail,
            instance=instance,
            errors=errors,
        )
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING_FIELD = re.compile(r"missing required field `(?P<name>[^`]+)`")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<name>[^`]+)`")


def field_errors_from_msgspec(error: msgspec.ValidationError) -> list[FieldError]:
    """Turn "Expected `int` >= 0 - at `$.inner[1]`" into FieldError("$.inner[1]", "Expected `int` >= 0")."""
    match = _AT_PATH.match(str(error))
    assert match is not None  # the pattern matches any string
    message, path = match.group("message"), match.group("path") or "$"
    named = _MISSING_FIELD.search(message) or _UNKNOWN_FIELD.search(message)
    if named:
        path = f"{path}.{named.group('name')}"
    return [FieldError(field=path, message=message)]


def _instance(request: Request[Any, Any, Any]) -> str:
    return request.url.path


def _on_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    if exc.status >= 500 and not isinstance(exc, ServiceUnavailable):
        log.error("%s in %s %s: %s", exc.slug, request.method, request.url.path, exc)
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        detail=exc.detail,
        instance=_instance(request),
        errors=exc.errors,
        headers=exc.headers,
    )


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Your role does not allow this"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "Service temporarily unavailable"),
}


# What Litestar raises (as a 500) when the client hangs up while its body is still being read
# (litestar/connection/request.py, Request.stream): the client's doing, not a fault of ours.
_CLIENT_GONE = "client disconnected prematurely"


def _on_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status == 500 and exc.detail == _CLIENT_GONE:
        # Nobody reads this answer; 499 (nginx's "client closed request") keeps it out of the 5xx
        # that mean a bug, in the request log and the metrics alike.
        log.info("client closed the connection during %s %s", request.method, request.url.path)
        return problem_response(499, "client-closed-request", "Client closed the request", instance=_instance(request))
    if status >= 500:
        return _on_unexpected(request, exc)
    slug, title = _HTTP_SLUGS.get(status, ("http-error", exc.detail or "Request failed"))
    errors = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        # Litestar's own validation covers path and query parameters (bodies are validated
        # strictly before it, in backend/http/validation.py).
        slug, title = "invalid-parameter", "A path or query parameter is not valid"
        errors = [
            FieldError(field=f"{_source(item)}.{item.get('key', '')}", message=item["message"])
            for item in exc.extra
            if isinstance(item, dict) and "message" in item
        ]
    detail = None if exc.detail == title else exc.detail
    return problem_response(
        status, slug, title, detail=detail, instance=_instance(request), errors=errors, headers=exc.headers
    )


def _source(item: dict[str, Any]) -> str:
    source = item.get("source", "parameter")
    return str(getattr(source, "value", source))


def _on_database_error(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[bytes]:
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        constraint = getattr(exc, "constraint_name", None) or ""
        mapped = _CONSTRAINT_PROBLEMS.get(constraint)
        if mapped is None:
            mapped = next((problem for kind, problem in _DEFAULT_BY_SQLSTATE.items() if isinstance(exc, kind)), None)
        if mapped is not None:
            status, slug, title = mapped
            return problem_response(status, slug, title, instance=_instance(request))
    if isinstance(exc, asyncpg.DataError) and not str(exc).startswith("invalid input for query argument"):
        # Values the validation layer let through but PostgreSQL cannot store (e.g. a date out of range).
        # (asyncpg's own "invalid input for query argument" means our code passed a wrong type: a bug.)
        return problem_response(
            422, "validation", "A value is out of the range the system can store", instance=_instance(request)
        )
    if isinstance(exc, _UNAVAILABLE):
        return _on_unavailable(request, exc)
    if isinstance(exc, asyncpg.TransactionRollbackError):
        # A deadlock or serialisation failure that outlived the command's retries (backend/core/db.py):
        # nothing was written, and the same request may well succeed in a moment.
        log.warning("transaction rolled back during %s %s: %r", request.method, request.url.path, exc)
        return problem_response(
            503,
            "busy",
            "Too many people are changing the same thing; try again",
            detail="Nothing was changed; retry with the same Idempotency-Key.",
            instance=_instance(request),
            headers={"Retry-After": "1"},
        )
    return _on_unexpected(request, exc)


def _on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
    return problem_response(
        503,
        "unavailable",
        "Service temporarily unavailable",
        detail="The database did not answer in time; retry with the same Idempotency-Key.",
        instance=_instance(request),
        headers={"Retry-After": "1"},
    )


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` is the database failing (gone, restarting, saturated) rather than the request."""
    return isinstance(exc, _UNAVAILABLE)


def unavailable_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The 503 problem+json for a database failure, for code that must answer it outside the handlers."""
    return _on_unavailable(request, exc)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, _UNAVAILABLE):
        return _on_unavailable(request, exc)
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "internal", "Internal error", instance=_instance(request))


def exception_handlers() -> ExceptionHandlersMap:
    return {
        DomainError: _on_domain_error,
        HTTPException: _on_http_exception,
        asyncpg.PostgresError: _on_database_error,
        Exception: _on_unexpected,
    }
