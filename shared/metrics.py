"""Every metric the services expose at /metrics, in one place: names under `pars_`, each with a `service` label.

Hot paths (a consumed batch, a published batch, an HTTP request) take label children from small caches, resolved
once per label set: prometheus_client's `labels()` takes a lock and builds a key on every call.
deploy/observability/ graphs these names; tests/test_observability.py holds the dashboard to them.
"""

import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_service = "unknown"  # this process's service (worker_app sets it): one service per process as deployed


def serve_as(service: str) -> None:
    """The `service` label of the metrics counted where the service is not at hand (publishing, domain counts)."""
    global _service
    if service != _service:
        _service = service
        for cache in _CACHES:
            cache.clear()


def this_service() -> str:
    return _service


# Kafka --------------------------------------------------------------------------------------------------------

consumed = Counter("pars_messages_consumed_total", "Messages handled by a consumer", ["service", "topic"])
produced = Counter("pars_messages_produced_total", "Messages Kafka acknowledged, by topic", ["service", "topic"])
dead_lettered = Counter("pars_messages_dead_lettered_total", "Messages sent to a dead-letter topic",
                        ["service", "topic"])
handler_seconds = Histogram(
    "pars_handler_seconds", "How long a consumer's handler took over one batch (retries included)",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
batch_size = Histogram(
    "pars_batch_size", "Messages per batch a consumer handled", ["service", "topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
)


class TopicMetrics:
    """One consumer's children for one topic: what a handled batch updates."""

    __slots__ = ("batch_size", "consumed", "seconds")

    def __init__(self, service: str, topic: str) -> None:
        self.consumed = consumed.labels(service, topic)
        self.seconds = handler_seconds.labels(service, topic)
        self.batch_size = batch_size.labels(service, topic)

    def handled(self, messages: int, seconds: float) -> None:
        self.consumed.inc(messages)
        self.seconds.observe(seconds)
        self.batch_size.observe(messages)


def topic_metrics(service: str) -> Callable[[str], TopicMetrics]:
    """A consumer's TopicMetrics by topic, each made once."""
    made: dict[str, TopicMetrics] = {}

    def of(topic: str) -> TopicMetrics:
        found = made.get(topic)
        if found is None:
            found = made[topic] = TopicMetrics(service, topic)
        return found

    return of


_produced: dict[str, Any] = {}


def count_produced(rows: Iterable[Any]) -> None:
    """Rows (anything with a `topic`) Kafka acknowledged. Consecutive rows of a topic are counted in one step."""
    topic, n = None, 0
    for row in rows:
        if row.topic != topic:
            if n:
                _child(_produced, produced, topic).inc(n)
            topic, n = row.topic, 0
        n += 1
    if n:
        _child(_produced, produced, topic).inc(n)


class ConsumerLag(Collector):
    """pars_consumer_lag: per group, topic and partition, the messages not handed to the handler yet: past the
    consumer's position (the next offset it will fetch), or past the first record its poll took and still holds
    (shared.consumer: `_Held`). From what the consumer itself knows: the high watermark each fetch answer carries.
    Read at scrape time, no request to Kafka; a partition not fetched yet has no high watermark and is left out."""

    def __init__(self) -> None:
        self._watched: list[tuple[str, str, weakref.ref[Any]]] = []

    def watch(self, service: str, group: str, subscriber: Any) -> None:
        """A FastStream Kafka subscriber: its `consumer` (aiokafka's) is there while it runs."""
        self._watched = [w for w in self._watched if w[2]() is not None]
        self._watched.append((service, group, weakref.ref(subscriber)))

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("pars_consumer_lag", "Messages not handed to the consumer's handler yet, by partition",
                                 labels=["service", "group", "topic", "partition"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for service, group, ref in self._watched:
            subscriber = ref()
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for topic, partition, lag in _lags(consumer, getattr(subscriber, "held_records", None)):
                family.add_metric([service, group, topic, str(partition)], lag)
        yield family


def _lags(consumer: Any, held: Any) -> Iterator[tuple[str, int, int]]:
    try:  # aiokafka's subscription state: what highwater() and position() read, without position()'s waiting
        assignment = consumer._subscription.subscription.assignment
        if assignment is None:
            return
        for tp in list(consumer.assignment()):
            state = assignment.state_value(tp)
            if state is not None and state.highwater is not None and state.has_valid_position:
                first = held.first_offset(tp, state.position) if held is not None else None
                yield tp.topic, tp.partition, max(0, state.highwater - (state.position if first is None else first))
    except (AttributeError, AssertionError, KeyError):  # no assignment (a rebalance, a stop): nothing to show
        return


consumer_lag = ConsumerLag()
REGISTRY.register(consumer_lag)


# The outbox ----------------------------------------------------------------------------------------------------

outbox_backlog = Gauge("pars_outbox_backlog", "Outbox rows due and not yet published", ["service", "schema"])
outbox_scheduled = Gauge("pars_outbox_scheduled", "Outbox rows to publish later (a board's latency)",
                         ["service", "schema"])


def outbox_rows(schema: str, due: int, scheduled: int) -> None:
    outbox_backlog.labels(_service, schema).set(due)
    outbox_scheduled.labels(_service, schema).set(scheduled)


# The domain ----------------------------------------------------------------------------------------------------

rejection_codes = Counter("pars_rejection_codes_total", "Rejections by PARS code (a record counts once per code)",
                          ["service", "code"])
board_verdicts = Counter("pars_board_verdicts_total", "Board verdicts, by board and verdict",
                         ["service", "board", "verdict"])
digests = Counter("pars_digests_total", "Rejection digests e-mailed, by outcome (sent, failed)",
                  ["service", "outcome"])

_codes: dict[str, Any] = {}
_verdicts: dict[tuple[str, str], Any] = {}
_digests: dict[str, Any] = {}


def count_rejection_codes(events: Iterable[Any]) -> None:
    """The codes of the rejections among these events (RecordRejectedByPars, RecordRejected)."""
    for event in events:
        if event.event_type in ("RecordRejectedByPars", "RecordRejected"):
            for error in event.errors:
                _child(_codes, rejection_codes, error.code).inc()


def count_board_verdicts(events: Iterable[Any]) -> None:
    """Board verdicts among these events: a board's answer (BoardVerdict), or the record event applying one
    (RecordAccepted or RecordRejected with a response_id; PARS's own acceptance has none)."""
    for event in events:
        kind = event.event_type
        if kind == "BoardVerdict":
            key = (event.board, "accepted" if event.accepted else "rejected")
        elif kind in ("RecordAccepted", "RecordRejected") and event.response_id is not None:
            key = (event.target.code, "accepted" if kind == "RecordAccepted" else "rejected")
        else:
            continue
        child = _verdicts.get(key)
        if child is None:
            child = _verdicts[key] = board_verdicts.labels(_service, *key)
        child.inc()


def count_digest(sent: bool) -> None:
    _child(_digests, digests, "sent" if sent else "failed").inc()


# HTTP ----------------------------------------------------------------------------------------------------------

http_requests = Counter("pars_http_requests_total", "HTTP requests answered, by route template and status",
                        ["service", "method", "route", "status"])
http_seconds = Histogram("pars_http_request_seconds", "HTTP request duration, by route template",
                         ["service", "method", "route"])

UNMATCHED = "<unmatched>"  # no route took the request (a 404): one label value, whatever the path


class HttpMetrics:
    """ASGI middleware: each request counted and timed by its route's template (`/v1/records/{record_id}`), never
    its path, so ids do not multiply the series."""

    def __init__(self, app: Any, service: str) -> None:
        self.app = app
        self._service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # the app failed before it answered
        started = time.perf_counter()

        async def answer(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED  # set by the router that matched
            key = (scope["method"], route, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (http_requests.labels(self._service, key[0], route, str(status)),
                                                  http_seconds.labels(self._service, key[0], route))
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------------------

_CACHES: list[dict[Any, Any]] = [_produced, _codes, _verdicts, _digests]


def _child(cache: dict[Any, Any], metric: Any, value: Any) -> Any:
    child = cache.get(value)
    if child is None:
        child = cache[value] = metric.labels(_service, value)
    return child
