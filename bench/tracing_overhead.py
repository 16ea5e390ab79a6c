"""`python -m bench.tracing_overhead [--batch N] [--rounds R]`: what tracing adds per message, in process, off and on.

The two places a message meets tracing: the consumer wrapper (shared.consumer's `settle`, one `consuming` per batch)
and the outbox (`_traced`, once per write of a batch of messages). Off (PARS_OTLP_ENDPOINT unset) each is one check
per batch; on, each batch gets a "process" span per trace and a "create" span per topic and trace, and each message
its headers read and its trace context written. The spans go through the SDK's BatchSpanProcessor to an exporter
that drops them: the service's own CPU, not the collector's or the network's. Best of R rounds (this machine is
shared), microseconds per message, for batches of N messages of one trace (a batch file's, or an interactive
request's when N is 1). A yardstick is printed first: json.dumps of a small dict on this machine, now.
"""

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from shared import outbox, tracing
from shared.outbox import OutboxMessage


@dataclass(frozen=True)
class Record:
    topic: str
    headers: Sequence[tuple[str, bytes]]


class Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def best_us_per_message(work: Callable[[], None], messages: int, rounds: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        best = min(best, (time.perf_counter() - started) / repeat / messages)
    return best * 1e6


def hop(batch: int) -> Callable[[], None]:
    """One consumed batch of `batch` messages of one trace, each writing one message on."""
    headers = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
               ("event_type", b"SubmitRecord"), ("correlation_id", b"5f0c1a9e-0d2b-4c7e-9a55-3b1e6f2d8c40")]
    records = [Record("pars.submissions", headers) for _ in range(batch)]
    written = [OutboxMessage("pars.record-events", b"{}", b"k", {
        "event_type": "RecordSubmitted", "correlation_id": "5f0c1a9e-0d2b-4c7e-9a55-3b1e6f2d8c40",
        "event_id": "0b7c"}) for _ in range(batch)]

    def work() -> None:
        with tracing.consuming("validation", "pars.validation", iter(records)):
            outbox._traced(written)

    return work


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing_overhead")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    on = tracing._Tracing("bench", provider, provider.get_tracer("bench"))
    sample = {"event_type": "RecordSubmitted", "correlation_id": "5f0c1a9e", "credits": [8, 1]}

    def dumps() -> None:
        json.dumps(sample)

    yardstick = best_us_per_message(dumps, 1, args.rounds, 20_000)
    print(f"yardstick: json.dumps of a small dict {yardstick:.2f} us")
    print(f"{'messages a batch':>16} {'off, us/message':>16} {'on, us/message':>16}")
    for batch in args.batch:
        repeat = max(1, 20_000 // batch)
        tracing._tracing = None
        off_us = best_us_per_message(hop(batch), batch, args.rounds, repeat)
        tracing._tracing = on
        on_us = best_us_per_message(hop(batch), batch, args.rounds, repeat)
        tracing._tracing = None
        print(f"{batch:>16} {off_us:>16.3f} {on_us:>16.2f}")
    provider.shutdown()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
