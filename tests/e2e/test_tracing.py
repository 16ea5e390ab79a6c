"""One completion's spans, exported by every service over OTLP/HTTP, share one trace from intake's HTTP request
through validation, the board router and the board to the projector: the trace context rides in the Kafka headers
and survives the outbox."""

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pars_cli.stack import stop_services
from tests.e2e.conftest import Stack, start_stack
from tests.e2e.test_walking_skeleton import completion
from tests.e2e.worlds import GUIDE_WORLD
from tests.support import free_port

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


class OtlpReceiver:
    """A collector's OTLP/HTTP traces endpoint, as small as it gets: every span it is sent, decoded."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.take(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def take(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                    with self._lock:
                        self.spans.append(ReceivedSpan(resource["service.name"], span.name, span.kind,
                                                       span.trace_id.hex(), span.span_id.hex(),
                                                       span.parent_span_id.hex(), attributes))

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    thread = threading.Thread(target=running.server.serve_forever, daemon=True)
    thread.start()
    yield running
    running.server.shutdown()


@pytest.fixture(scope="module")
def traced_stack(servers: dict[str, str], receiver: OtlpReceiver,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Spans leave every 0.2 s instead of the SDK's 5 s, so the test waits less.
    running = start_stack(servers, tmp_path_factory.mktemp("traced-stack-logs"), PARS_OTLP_ENDPOINT=receiver.url,
                          OTEL_BSP_SCHEDULE_DELAY="200")
    yield running
    stop_services(list(running.processes.values()))


def test_a_completion_is_one_trace_from_intake_to_the_projector(traced_stack: Stack, receiver: OtlpReceiver) -> None:
    traced_stack.load_world(GUIDE_WORLD)
    issued = traced_stack.pars("provider", "key", "0008001")
    assert issued.returncode == 0, issued.stderr
    with traced_stack.client(issued.stdout.strip()) as api:
        answer = api.post("/v1/completions", params={"wait": "true"}, json=completion())
        assert answer.status_code == 202, answer.text
        record_id = answer.json()["records"][0]["record_id"]
        traced_stack.wait_for(lambda: api.get(f"/v1/records/{record_id}").json().get("status") == "Accepted")

    def request_span() -> ReceivedSpan | None:
        return next((s for s in receiver.received() if s.service == "intake" and s.kind == 2  # SERVER
                     and str(s.attributes.get("http.route")).endswith("/completions")), None)

    http = traced_stack.wait_for(request_span)
    assert http.parent_id == "", "the request started the trace"
    assert "url.query" not in http.attributes or http.attributes["url.query"] == "wait="  # names, never values

    def projected_accepted() -> list[ReceivedSpan] | None:
        spans = receiver.of_trace(http.trace_id)
        by_id = {s.span_id: s for s in spans}
        for span in spans:
            if span.service != "projector":
                continue
            chain = [span]
            while chain[-1].parent_id in by_id:
                chain.append(by_id[chain[-1].parent_id])
            if chain[-1] is http and "board-sim" in {s.service for s in chain}:
                return chain
        return None

    chain = traced_stack.wait_for(projected_accepted, timeout=30)
    # projector <- board-router <- board-sim <- board-router <- validation <- intake, each hop a Kafka message whose
    # "create" span (the producer's, kept in the outbox row) is the parent of its consumer's "process" span.
    services = [s.service for s in reversed(chain)]
    assert [s for i, s in enumerate(services) if i == 0 or s != services[i - 1]] == [
        "intake", "validation", "board-router", "board-sim", "board-router", "projector"], services
    hops = [s for s in reversed(chain) if s.kind == 5]  # CONSUMER
    topics = [str(s.attributes["messaging.destination.name"]).split(".", 1)[1] for s in hops]
    assert topics == ["pars.submissions", "pars.record-events", "pars.board.ABOHNS.requests", "pars.board-responses",
                      "pars.record-events"], topics
    for consumer in hops:
        producer = next(s for s in chain if s.span_id == consumer.parent_id)
        assert producer.kind == 4 and producer.name.endswith(" create")  # PRODUCER
