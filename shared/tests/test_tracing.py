"""shared.tracing: a consumed batch's spans are children of its messages' contexts, trace by trace; messages written
meanwhile carry the context of their cause's span, kept in the outbox row for the relay; off, nothing is touched."""

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import outbox as outbox_module
from shared import tracing
from shared.db import create_pool, migrate
from shared.outbox import Outbox, OutboxMessage, OutboxRelay, OutboxRow
from shared.settings import Settings


@dataclass(frozen=True)
class Record:
    """What the consumer wrapper reads of an aiokafka ConsumerRecord."""

    topic: str
    headers: Sequence[tuple[str, bytes]]


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(tracing._query_values_dropped())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = tracing._tracing
    tracing._tracing = tracing._Tracing("test", provider, provider.get_tracer("test"))
    yield exporter
    tracing._tracing = before


def on() -> tracing._Tracing:
    assert tracing._tracing is not None
    return tracing._tracing


def parent_span_id(span: ReadableSpan) -> int:
    assert span.parent is not None
    return span.parent.span_id


def traceparent(span: trace.Span) -> bytes:
    carrier: dict[str, str] = {}
    tracing._PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier["traceparent"].encode()


def parent_of(headers: dict[str, str]) -> trace.SpanContext:
    return trace.get_current_span(tracing._PROPAGATOR.extract(headers)).get_span_context()


def test_off_nothing_is_made_or_touched() -> None:
    assert not tracing.enabled()
    assert tracing.start(Settings(_env_file=None), "intake") is None
    messages = [OutboxMessage("t", b"v", b"k", {"correlation_id": "c"})]
    assert outbox_module._traced(messages) is messages
    with tracing.consuming("svc", "group", iter(())) as batch:
        batch.failed(ValueError())
    assert tracing.trace_headers(Record("t", [("traceparent", b"00-x")])) == {}
    assert tracing.fastapi_telemetry(None)["tracing"] is False


def test_a_batch_of_two_traces_gets_a_span_each_and_its_messages_follow_their_cause(
        exported: InMemorySpanExporter) -> None:
    tracer = on().tracer
    first, second = tracer.start_span("request one"), tracer.start_span("request two")
    batch = [Record("ns.pars.submissions", [("traceparent", traceparent(first)), ("correlation_id", b"c1")]),
             Record("ns.pars.submissions", [("traceparent", traceparent(second)), ("correlation_id", b"c2")]),
             Record("ns.pars.submissions", [("traceparent", traceparent(first)), ("correlation_id", b"c1")])]
    with tracing.consuming("validation", "ns.pars.validation", batch):
        stamped = tracing.stamp([("ns.pars.record-events", {"correlation_id": "c2"}),
                                 ("ns.pars.record-events", {"correlation_id": "c1"}),
                                 ("ns.pars.record-events", {"correlation_id": "c1", "event_type": "RecordSubmitted"})])
    spans: dict[str, ReadableSpan] = {format(s.context.span_id, "016x"): s for s in exported.get_finished_spans()}
    process = [s for s in spans.values() if s.kind == SpanKind.CONSUMER]
    assert sorted((parent_span_id(s), (s.attributes or {})["messaging.batch.message_count"]) for s in process
                  ) == sorted([(first.get_span_context().span_id, 2), (second.get_span_context().span_id, 1)])
    # Each written message's "create" span is a child of the process span of its correlation id's trace.
    creates = [spans[format(parent_of(h).span_id, "016x")] for h in stamped]
    assert [c.kind for c in creates] == [SpanKind.PRODUCER] * 3 and creates[1] is creates[2]
    assert [c.context.trace_id for c in creates] == [second.get_span_context().trace_id,
                                                    first.get_span_context().trace_id,
                                                    first.get_span_context().trace_id]
    assert [spans[format(parent_span_id(c), "016x")].kind for c in creates] == [SpanKind.CONSUMER] * 3
    assert stamped[2]["event_type"] == "RecordSubmitted"  # the headers it had are kept


def test_a_message_without_trace_context_starts_a_trace_and_a_failure_marks_the_span(
        exported: InMemorySpanExporter) -> None:
    with pytest.raises(TimeoutError), tracing.consuming("projector", "g", [Record("t", [])]):
        raise TimeoutError
    [span] = exported.get_finished_spans()
    assert span.parent is None and span.status.status_code == trace.StatusCode.ERROR
    assert span.status.description == "TimeoutError"  # the type alone: an error's text may quote a record


def test_a_request_span_keeps_query_names_not_values(exported: InMemorySpanExporter) -> None:
    tracer = on().tracer
    tracer.start_span("GET /v1/records", attributes={"url.query": "name=Benton&status=Rejected&page"}).end()
    [span] = exported.get_finished_spans()
    assert span.attributes is not None and span.attributes["url.query"] == "name=&status=&page="


def test_the_traces_url_is_otlp_https_path_under_the_endpoint() -> None:
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, settings.schema("tracingtest"))
    await migrate(pool, settings.schema("tracingtest"), "projector")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.mark.integration
async def test_the_relay_publishes_the_trace_context_kept_in_the_outbox_row(
        exported: InMemorySpanExporter, pool: asyncpg.Pool, settings: Settings) -> None:
    outbox = Outbox(settings.schema("tracingtest"))
    request = on().tracer.start_span("POST /v1/completions")
    with trace.use_span(request, end_on_exit=True):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage("t", b"v", b"k", {"correlation_id": "c"})])
    published: list[OutboxRow] = []

    async def kafka(rows: Sequence[OutboxRow]) -> None:
        published.extend(rows)

    assert (await OutboxRelay(pool, outbox, kafka).drain_once())[0] == 1  # later, outside the request
    [row] = published
    create = parent_of(row.headers)
    [span] = [s for s in exported.get_finished_spans() if s.context.span_id == create.span_id]
    assert parent_span_id(span) == request.get_span_context().span_id
    assert create.trace_id == request.get_span_context().trace_id and row.headers["correlation_id"] == "c"
