"""Logs as one JSON object per line, and one line per HTTP request.

What a line may carry is decided here, not at each call site: the request id, the trace and span
ids, the route *template*, method, status, duration and the caller's account id — never a
concrete path or query string (they can hold e-mail addresses or tickets), a header, a body, a
token or a name. Call sites add fields with `extra={...}`; only the names in `_FIELDS` are
written, so a careless `extra` cannot leak a body into the log.

Every problem+json answer gets a `traceId` member (RFC 9457 allows extension members): the
OpenTelemetry trace id when tracing is on, else this request's id. Either way it is the
`trace_id` of the request's log lines, so a user's screenshot of an error leads to its logs and
its trace. `musubi dev` logs plain text for people at a terminal.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final, cast

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.core import tracing
from backend.core.auth import remembered_caller

log = logging.getLogger("musubi.http")

REQUEST_ID_HEADER: Final = "x-request-id"
_PROBLEM_JSON: Final = b"application/problem+json"
# What a proxy may hand us as a request id; anything else is replaced rather than logged.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The only `extra` fields a log line may carry.
_FIELDS: Final = (
    "method",
    "route",
    "status",
    "duration_ms",
    "account_id",
    "step",
    "result",
    "count",
    "process",
)

_PROBES: Final = frozenset({"/health", "/ready", "/metrics"})

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("musubi_request_id", default=None)


def current_trace_id() -> str | None:
    return tracing.current_trace_id() or request_id_var.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            line["trace_id"] = trace_id
        span_id = tracing.current_span_id()
        if span_id:
            line["span_id"] = span_id
        for name in _FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal (`musubi dev`): the usual line, the request's fields after it."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{name}={record.__dict__[name]}" for name in _FIELDS if name in record.__dict__)
        text = super().format(record)
        return f"{text} {fields}" if fields else text


def configure_logging(level: str, *, json_lines: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's own loggers go through ours.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # Not its access log: it writes the client's address and the path as sent, query string and
    # all (a calendar feed's secret token, an e-mail address in a search), and the request line
    # below replaces it. uvicorn logs access only while that logger has a handler somewhere up its
    # tree, and in `serve --workers N` this runs after uvicorn's own set-up in each worker: without
    # a handler and cut off from ours, it stays silent and costs nothing.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False


class RequestLogMiddleware(ASGIMiddleware):
    """One log line per request, a request id for it, and its trace id in problem+json answers."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        method = str(scope.get("method", "GET"))
        route = str(scope.get("path_template") or "unmatched")
        tracing.name_server_span(method, route)
        status = 500
        held: dict[str, Any] | None = None
        body = b""

        async def answer(message: Message) -> None:
            nonlocal status, held, body
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (REQUEST_ID_HEADER.encode(), request_id.encode())]
                start: dict[str, Any] = {**message, "headers": headers}
                if any(name.lower() == b"content-type" and value.startswith(_PROBLEM_JSON) for name, value in headers):
                    held = start  # sent with the body, once the trace id is in it
                    return
                message = cast(Message, start)
            elif message["type"] == "http.response.body" and held is not None:
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                body = _with_trace_id(body, current_trace_id() or request_id)
                headers = [(n, v) for n, v in held["headers"] if n.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send(cast(Message, {**held, "headers": headers}))
                held = None
                message = {"type": "http.response.body", "body": body, "more_body": False}
            await send(message)

        try:
            await next_app(scope, receive, answer)
        finally:
            _, caller = remembered_caller(ASGIConnection(scope))
            # Probes and scrapes come every few seconds from machines; people's requests are the news.
            quiet = route in _PROBES and status < 400
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "account_id": getattr(caller, "account_id", None),
                },
            )
            request_id_var.reset(token)


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    # Same shape as a W3C trace id, so without tracing it stands in for one.
    return uuid.uuid4().hex


def _with_trace_id(body: bytes, trace_id: str) -> bytes:
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict):
        return body
    problem["traceId"] = trace_id
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
