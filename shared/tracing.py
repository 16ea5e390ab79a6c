"""OpenTelemetry traces across HTTP and every Kafka hop, exported by OTLP (HTTP/protobuf) when PARS_OTLP_ENDPOINT is
set; off otherwise, and then nothing here runs per message but one check per batch or outbox write.

A message's trace context travels in its Kafka headers (W3C `traceparent`, `tracestate`). Messages leave through the
outbox, which keeps the headers in its row, so the context stamped when a message is written survives the relay
publishing it later (or another instance's relay, after a crash). Consumers take batches that mix many traces: each
batch gets one "process" span per trace it holds, a child of the context its messages carry, and a message written
while the batch is handled is stamped with the span of the trace its cause belongs to, found by its
`correlation_id` header (every message has one, carried from the submission through each hop). So a completion's
spans share one trace id from intake's HTTP request to the projector, whatever else the batches held.

HTTP spans are FastAPI's own (its native telemetry), given this module's provider; query values are dropped from
them: a filter may hold a learner's name.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.logging import get_logger
from shared.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

log = get_logger(__name__)

TRACE_HEADERS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()
_ROOT = Context()  # a context with no span: a message without trace context starts a trace of its own


@dataclass
class _Tracing:
    service: str
    provider: TracerProvider
    tracer: trace.Tracer


_tracing: _Tracing | None = None


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces path under the endpoint (as OTEL_EXPORTER_OTLP_ENDPOINT reads), unless it names it."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def start(settings: Settings, service: str) -> TracerProvider | None:
    """This process's tracer provider for `service` when PARS_OTLP_ENDPOINT is set, else None (tracing off). The SDK
    is imported only then. Sampling follows OTEL_TRACES_SAMPLER (parent-based, always on, by default)."""
    global _tracing
    if not settings.otlp_endpoint:
        return None
    if _tracing is not None and _tracing.service == service:
        return _tracing.provider
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": service, "service.namespace": "pars",
                                "pars.namespace": settings.namespace})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(_query_values_dropped())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint))))
    _tracing = _Tracing(service, provider, provider.get_tracer("pars"))
    log.info("tracing on", otlp_endpoint=traces_url(settings.otlp_endpoint))
    return provider


def stop() -> None:
    """Export what is buffered and stop (blocking: the exporter's HTTP calls)."""
    global _tracing
    if _tracing is not None:
        tracing, _tracing = _tracing, None
        tracing.provider.shutdown()


def enabled() -> bool:
    return _tracing is not None


def fastapi_telemetry(provider: TracerProvider | None) -> dict[str, Any]:
    """FastAPI's native telemetry: request spans with this provider, or nothing at all (off, FastAPI asks for no
    provider per request). Metrics and logs are the service's own (/metrics, structlog)."""
    return {"tracing": provider is not None, "tracer_provider": provider, "metrics": False, "logs": False,
            "operation_spans": False}


def _query_values_dropped() -> SpanProcessor:
    """A processor that keeps a request span's query parameter names, not their values (a records filter may name a
    learner). Its class is made here: the SDK is imported only with tracing on."""
    from opentelemetry.sdk.trace import Span, SpanProcessor

    class QueryValuesDropped(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            query = span.attributes.get("url.query") if span.attributes else None
            if isinstance(query, str) and query:
                span.set_attribute("url.query", "&".join(part.split("=", 1)[0] + "=" for part in query.split("&")))

    return QueryValuesDropped()


# --- Kafka hops --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Causes:
    """What the batch being handled holds: the context of its "process" span per correlation id, and the one span's
    context when the batch holds a single trace (for a message whose correlation id names none)."""

    by_correlation: Mapping[str, Context]
    only: Context | None


_causes: contextvars.ContextVar[_Causes | None] = contextvars.ContextVar("pars_trace_causes", default=None)


def stamp(messages: Sequence[tuple[str, Mapping[str, str]]]) -> list[dict[str, str]]:
    """The headers of messages about to be kept (topic, headers), each with the trace context of a "create" span:
    one span per topic and parent among them, a child of the batch span their correlation id names, else of the
    current context (a request's span). Headers that carry a context already are kept as they are."""
    assert _tracing is not None, "stamp is called only with tracing on"
    causes = _causes.get()
    made: dict[tuple[str, int], dict[str, str]] = {}
    stamped = []
    for topic, headers in messages:
        if "traceparent" in headers:
            stamped.append(dict(headers))
            continue
        parent = None
        if causes is not None:
            parent = causes.by_correlation.get(headers.get("correlation_id", ""), causes.only)
        carrier = made.get((topic, id(parent)))
        if carrier is None:
            span = _tracing.tracer.start_span(f"{topic} create", context=parent, kind=SpanKind.PRODUCER, attributes={
                "messaging.system": "kafka", "messaging.operation.type": "create",
                "messaging.destination.name": topic})
            carrier = {}
            _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
            span.end()
            made[(topic, id(parent))] = carrier
        stamped.append({**headers, **carrier})
    return stamped


def trace_headers(record: Any) -> dict[str, str]:
    """A consumed record's trace context headers (for its dead letter), when tracing is on."""
    if _tracing is None:
        return {}
    return {k: v.decode() for k, v in record.headers or () if k in TRACE_HEADERS}


class _Consuming:
    """One batch's "process" spans, one per trace among its records; while it is entered, messages written are
    stamped as children of their cause's span (`stamp`)."""

    def __init__(self, tracing: _Tracing, service: str, group: str, records: Iterable[Any]) -> None:
        groups: dict[tuple[str, bytes | None, bytes | None], list[bytes]] = {}
        for record in records:
            parent = state = correlation = None
            for key, value in record.headers or ():
                if key == "traceparent":
                    parent = value
                elif key == "tracestate":
                    state = value
                elif key == "correlation_id":
                    correlation = value
            groups.setdefault((record.topic, parent, state), []).append(correlation or b"")
        by_correlation: dict[str, Context] = {}
        self._spans = []
        for (topic, parent, state), correlations in groups.items():
            carrier = {"traceparent": parent.decode()} if parent else {}
            if parent and state:
                carrier["tracestate"] = state.decode()
            span = tracing.tracer.start_span(
                f"{topic} process", context=_PROPAGATOR.extract(carrier, context=_ROOT), kind=SpanKind.CONSUMER,
                attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                            "messaging.destination.name": topic, "messaging.consumer.group.name": group,
                            "messaging.batch.message_count": len(correlations), "pars.service": service})
            self._spans.append(span)
            context = trace.set_span_in_context(span)
            for correlation in correlations:
                by_correlation.setdefault(correlation.decode(), context)
        only = trace.set_span_in_context(self._spans[0]) if len(self._spans) == 1 else None
        self._causes = _Causes(by_correlation, only)
        self._token: contextvars.Token[_Causes | None] | None = None

    def __enter__(self) -> _Consuming:
        self._token = _causes.set(self._causes)
        return self

    def failed(self, error: BaseException) -> None:
        """The batch is redelivered (or failed): its spans say so, by the error's type alone (its text may quote a
        record)."""
        for span in self._spans:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._token is not None:
            _causes.reset(self._token)
        if error is not None:
            self.failed(error)
        for span in self._spans:
            span.end()


class _NotConsuming:
    """Tracing off: a batch costs this object's enter and exit."""

    def __enter__(self) -> _NotConsuming:
        return self

    def failed(self, error: BaseException) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        pass


_NOT_CONSUMING = _NotConsuming()


def consuming(service: str, group: str, records: Iterable[Any]) -> _Consuming | _NotConsuming:
    """`with consuming(...) as batch:` around a batch's handling (see _Consuming); with tracing off, nothing."""
    if _tracing is None:
        return _NOT_CONSUMING
    return _Consuming(_tracing, service, group, records)
