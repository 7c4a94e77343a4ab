"""OpenTelemetry traces, exported by OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; off otherwise.

Off means no provider is installed: the API's no-op tracer costs next to nothing, and no
instrumentation wraps asyncpg or Redis. On, each process gets one tracer provider (service name
from `OTEL_SERVICE_NAME`, else `musubi-<role>`), Litestar's OpenTelemetry plugin opens the HTTP
server span, and asyncpg and redis-py are instrumented so a request's SQL statements and Redis
calls appear as its children. The standard `OTEL_*` variables (headers, sampler, timeout) apply
as the SDK defines them.

Span names use the route template (`POST /v1/bookings`), never the concrete path, so traces
group by endpoint and a path never carries an identifier into the tracing backend. SQL spans
carry the statement text with `$n` parameters, never the parameter values.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry import trace

log = logging.getLogger("musubi.tracing")

_enabled = False


def enabled() -> bool:
    return _enabled


def configure_tracing(role: str) -> bool:
    """Install the exporter once per process; True when traces are exported."""
    global _enabled
    if _enabled:
        return True
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") and not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"musubi-{role}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument(tracer_provider=provider)
    _enabled = True
    log.info("exporting traces as %s", name)
    return True


def shutdown_tracing() -> None:
    """Flush the spans still queued (the batch processor sends every few seconds)."""
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if _enabled and shutdown is not None:
        shutdown()


def litestar_plugins() -> list[Any]:
    """Litestar's OpenTelemetry plugin when tracing is on; nothing otherwise."""
    if not _enabled:
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    config = OpenTelemetryConfig(
        # Probes and scrapes every few seconds would bury the requests people make.
        exclude=["^/health$", "^/ready$", "^/metrics$"],
        # The route is not known yet when the span starts (routing comes after); name_server_span
        # renames it once it is.
        scope_span_details_extractor=lambda scope: (str(scope.get("method", "HTTP")), {}),
        exclude_spans=["receive", "send"],
    )
    return [OpenTelemetryPlugin(config)]


def name_server_span(method: str, route: str) -> None:
    if not _enabled:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def current_span_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.span_id, "016x") if context.is_valid else None
