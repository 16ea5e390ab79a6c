"""Batch consumption with bounded retries and a dead-letter topic.

The handler gets a whole batch and must apply it in one transaction (all or nothing). A batch that keeps
failing is split into single messages; one that still fails goes to `pars.dlq.<service>` with the error
and its source in headers. Only then is the offset committed (within a second, shared/commits.py): nothing is lost,
nothing spins forever.
"""

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Generic, TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from shared.collector import collector_held
from shared.commits import Commits
from shared.db import DATABASE_UNAVAILABLE
from shared.events import Envelope
from shared.logging import get_logger, scrub_error_text
from shared.metrics import consumer_lag, dead_lettered, topic_metrics
from shared.settings import Settings
from shared.topics import dead_letters
from shared.tracing import consuming, trace_headers

T = TypeVar("T")
log = get_logger(__name__)

RETRY_DELAYS = (0.2, 1.0, 3.0)
# Failures of the infrastructure, not of the message: the batch is redelivered later, never dead-lettered.
TRANSIENT = (
    *DATABASE_UNAVAILABLE, OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError, KafkaConnectionError, KafkaTimeoutError,
)
TRANSIENT_PAUSE = 2.0
# How long an idle consumer waits, in the broker (a fetch), in aiokafka's fetch loop and here (a poll), before
# asking again. Each returns as soon as a message arrives (the fetch loop also wakes on a consumed batch, a seek,
# a rebalance), so a longer wait costs no latency; it only wakes an idle consumer less often (the defaults, 0.5 s,
# 0.2 s and 0.2 s plus FastStream's 0.2 s pause after an empty poll, were most of an idle service's CPU; 2 s, as
# until 2026-12-03, left an idle stack's dozen consumers 6 fetches a second: docs/PERFORMANCE.md).
FETCH_WAIT_MS = 5_000
FETCH_LOOP_WAIT_MS = 5_000
POLL_WAIT_MS = 30_000
# While messages flow, a consumer's fetches wait this long at most, or its linger (long_polls). aiokafka sends no
# fetch to a broker that has one in flight, so what the fetch in flight holds up waits with it: a rewind (a seek,
# after a transient failure).
FLOWING_FETCH_WAIT_MS = 500
LINGER_MIN_BYTES = 1 << 20  # a lingering fetch's answer: as soon as the broker has so much (long_polls)

@dataclass(frozen=True)
class Delivery(Generic[T]):
    message: T
    record: Any  # aiokafka ConsumerRecord: topic, partition, offset, key, headers


async def the_message(msg: Any) -> Any:
    """A subscriber's decoder that makes the message itself the handler's one argument, `msg: Any`. Handlers read
    the raw records (`records_of`) and decode them with their own model, so FastStream's JSON decoding of every
    message would be wasted work (it was a fifth of a consumer's time). And a handler taking `msg: KafkaMessage`
    instead is given it by FastDepends in a worker thread (a `Context` is resolved by a sync method, which it runs
    through anyio's thread pool): 95-135 us of CPU per batch, in process.

    A weak proxy of it: the message keeps what its decoder answers, and keeping itself made it a reference cycle,
    so each batch, its records and their values stayed in memory until a full pass of the cyclic collector found
    them (docs/PERFORMANCE.md, "A batch freed when it is handled"). FastStream holds the message while the handler
    runs."""
    return weakref.proxy(msg)


def records_as_they_came(subscriber: Any) -> Callable[[tuple[ConsumerRecord, ...]], Awaitable[Any]]:
    """A batch subscriber's parser that wraps the records in FastStream's message without reading them. FastStream's
    own decodes every header of every record as UTF-8 into a dict of its own, which no handler here reads (they
    read the raw records): 3.5% of the services' CPU while files were filed, more than any function of ours
    (docs/PERFORMANCE.md). And a header that was not UTF-8 (Kafka's are bytes) failed its whole batch before the
    handler, every time it came. Its message class and the consumer it is given at start are FastStream's parser's."""
    batch_parser = subscriber.parser

    async def parse(records: tuple[ConsumerRecord, ...]) -> Any:
        first, last = records[0], records[-1]
        return batch_parser.msg_class(
            raw_message=records, body=(), message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
            consumer=batch_parser._consumer,
        )

    return parse


def records_of(msg: Any) -> list[ConsumerRecord]:
    raw = msg.raw_message
    return list(raw) if isinstance(raw, list | tuple) else [raw]


def _fetch_within(consumer: AIOKafkaConsumer, min_bytes: int, max_wait_ms: int) -> None:
    """What the consumer's next fetches ask of the broker: answer once it has `min_bytes`, or `max_wait_ms` passed.
    aiokafka reads both from its fetcher for every fetch it sends, and has no public way to change them."""
    fetcher = consumer._fetcher
    fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = min_bytes, max_wait_ms


def _position_now(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The consumer's position in `tp` as it stands, or None when `tp` is not assigned to it (a rebalance) or its
    position is being reset. aiokafka's `position()` is a coroutine that may wait; this never does."""
    subscription = consumer._subscription
    if not subscription.is_assigned(tp):
        return None
    state = subscription.subscription.assignment.state_value(tp)
    return state.position if state.has_valid_position and not state.paused else None


class _Held:
    """Records taken from aiokafka's fetcher and not yet handed to the handler, per partition, in offset order.

    Why take them: aiokafka sends one fetch at a time to a broker and leaves out of it every partition whose fetched
    records are still unread. A poll of `max_records` that leaves some behind thus keeps their partitions out of the
    next fetch, and what those partitions receive meanwhile waits for that fetch (a lingering one, up to the linger)
    and then for one more. Taking every fetched record keeps every partition in each fetch; the handler still gets
    at most `max_records` a batch.

    A rewind (a nack's seek) or a rebalance moves the consumer's position in a partition away from where these
    records left it; they are then stale (the records come again from the broker, or are another member's) and are
    dropped, as aiokafka drops its own fetched records in that case."""

    def __init__(self) -> None:
        self._records: dict[TopicPartition, list[ConsumerRecord]] = {}
        self._position: dict[TopicPartition, int] = {}  # where taking them left the consumer in each partition

    def __len__(self) -> int:
        return sum(map(len, self._records.values()))

    def add(self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        for tp, records in batches.items():
            self._records.setdefault(tp, []).extend(records)
            if (position := _position_now(consumer, tp)) is not None:
                self._position[tp] = position
            else:  # already unassigned: not ours to hand
                self._drop(tp)

    def take(self, consumer: AIOKafkaConsumer, max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Up to `max_records` of the records still valid, each partition's in order."""
        taken: dict[TopicPartition, list[ConsumerRecord]] = {}
        room = max_records
        for tp in list(self._records):
            if _position_now(consumer, tp) != self._position.get(tp):
                self._drop(tp)
                continue
            if room is not None and room <= 0:
                continue
            records = self._records[tp]
            count = len(records) if room is None else min(room, len(records))
            taken[tp], rest = records[:count], records[count:]
            if rest:
                self._records[tp] = rest
            else:
                self._drop(tp)
            if room is not None:
                room -= count
        return taken

    def first_offset(self, tp: TopicPartition, position: int) -> int | None:
        """The offset of the first record held for `tp`, while they are still valid at the consumer's `position`:
        where the records not handed yet begin (shared.metrics' consumer lag counts from there)."""
        records = self._records.get(tp)
        return records[0].offset if records and self._position.get(tp) == position else None

    def _drop(self, tp: TopicPartition) -> None:
        self._records.pop(tp, None)
        self._position.pop(tp, None)


def long_polls(subscriber: Any, max_records: int | None, linger_ms: int = 0) -> None:
    """A batch subscriber's poll that waits for messages up to POLL_WAIT_MS and returns at the first. FastStream's
    own sleeps its batch_timeout_ms after an empty poll, so a message arriving then waited for nothing; and a
    longer timeout would lengthen that sleep too. Stopping the consumer ends a waiting poll at once.

    Once messages flow, the broker holds each fetch at most FLOWING_FETCH_WAIT_MS (a lingering consumer's, its
    linger), not the idle FETCH_WAIT_MS, so a rewind waits no longer than that. A poll that finds nothing within
    twice that time goes back to the long poll answered at the first message, so an idle consumer costs no more.
    Each poll takes every record fetched so far and hands at most `max_records` (`_Held`), so no partition is left
    out of the next fetch.

    `linger_ms`: batches that grow with the load. While messages flow, the broker holds each fetch until it has
    LINGER_MIN_BYTES or `linger_ms` passed, so the handler takes what arrived meanwhile in one batch (one
    transaction, one publish, one commit, one fetch) rather than a batch of one or two per message: those per-batch
    costs, in the service, in PostgreSQL and in Kafka, were most of a record's. For consumers off the callers'
    path: each hop's answer waits up to `linger_ms` longer."""
    flowing = False
    min_bytes, wait_ms = (LINGER_MIN_BYTES, linger_ms) if linger_ms else (1, FLOWING_FETCH_WAIT_MS)
    held = subscriber.held_records = _Held()

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
        nonlocal flowing
        if max_records is not None and len(held) >= max_records:  # a backlog: hand it before taking more
            return tuple(chain.from_iterable(held.take(consumer, max_records).values()))
        if held:  # whatever else was fetched meanwhile, without waiting
            held.add(consumer, await consumer.getmany(timeout_ms=0))
        if flowing and not held:
            held.add(consumer, await consumer.getmany(timeout_ms=2 * wait_ms + 100))
            if not held:  # the flow stopped
                flowing = False
                _fetch_within(consumer, 1, FETCH_WAIT_MS)
        if not flowing and not held:
            held.add(consumer, await consumer.getmany(timeout_ms=POLL_WAIT_MS))
            if held:
                flowing = True
                _fetch_within(consumer, min_bytes, wait_ms)
        return tuple(chain.from_iterable(held.take(consumer, max_records).values()))

    subscriber.get_msg = get_msg


def event_type_of(record: ConsumerRecord) -> bytes | None:
    """The `event_type` header every outbox message carries (shared.outbox.event_message), if there is one. A plain
    loop: every consumer of pars.record-events asks this of every record, and a generator took four times as long."""
    headers: Sequence[tuple[str, bytes]] = record.headers or ()
    for key, value in headers:
        if key == "event_type":
            return value
    return None


def event_types(*events: type[Envelope]) -> frozenset[bytes]:
    """The header values that name these event classes."""
    return frozenset(e.model_fields["event_type"].default.encode() for e in events)


def subscribe_batches(
    broker: KafkaBroker,
    settings: Settings,
    *,
    service: str,
    topics: Sequence[str],
    group: str,
    decode: Callable[[bytes], T],
    handle: Callable[[list[Delivery[T]]], Awaitable[None]],
    max_records: int = 500,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    only: Collection[type[Envelope]] | None = None,
    by_topic: bool = False,
    linger_ms: int | None = None,
) -> None:
    """`only`: the events the handler acts on; others on the topic are passed over (and committed) without
    being decoded, told apart by their `event_type` header. A message without that header is always decoded.
    `by_topic`: one consumer for several topics whose messages are handled apart (board-sim: one board per topic):
    the handler gets one topic's messages at a time, and each topic's are retried, split and dead-lettered on
    their own, all topics at once: one topic's failing message neither fails nor re-runs another topic's messages
    (its retries do delay the consumer's next poll, for every topic, by up to the sum of `retry_delays`).
    `linger_ms`: how long the broker may hold a fetch while messages flow (long_polls); by default the setting
    `consumer_linger_ms`, for consumers off the callers' path. A consumer a caller waits on passes 0."""
    wanted = event_types(*only) if only is not None else None
    dlq_topic = settings.topic(dead_letters(service).name)

    async def dead_letter(record: ConsumerRecord, error: BaseException) -> None:
        headers = {
            "dlq.error": scrub_error_text(f"{type(error).__name__}: {error}")[:1000],
            "dlq.service": service,
            "dlq.source.topic": record.topic,
            "dlq.source.partition": str(record.partition),
            "dlq.source.offset": str(record.offset),
            "dlq.failed_at": datetime.now(UTC).isoformat(),
            **trace_headers(record),  # tracing on: the dead letter stays in its message's trace
        }
        await broker.publish(record.value or b"", dlq_topic, key=record.key, headers=headers)
        dead_lettered.labels(service, record.topic).inc()
        correlation = next((v.decode(errors="replace") for k, v in record.headers or () if k == "correlation_id"), None)
        log.error("message dead-lettered", source_topic=record.topic, partition=record.partition,
                  offset=record.offset, error=headers["dlq.error"], correlation_id=correlation)

    async def with_retries(batch: list[Delivery[T]]) -> BaseException | None:
        for attempt, delay in enumerate((0.0, *retry_delays)):
            if delay:
                await asyncio.sleep(delay)
            try:
                await handle(batch)
                return None
            except TRANSIENT:
                raise
            except Exception as exc:
                log.warning("handler failed", attempt=attempt + 1, size=len(batch), error=scrub_error_text(repr(exc)))
                last = exc
        return last

    async def settle(batch: list[Delivery[T]]) -> None:
        """Applies the batch, or as much of it as can be: a message that keeps failing is dead-lettered. Tracing on,
        a "process" span per trace the batch holds (shared.tracing)."""
        with consuming(service, group, (d.record for d in batch)) as traced:
            error = await with_retries(batch)
            if error is not None and len(batch) > 1:
                for delivery in batch:  # isolate the poison message; the others still get applied
                    single_error = await with_retries([delivery])
                    if single_error is not None:
                        await dead_letter(delivery.record, single_error)
            elif error is not None:
                traced.failed(error)
                await dead_letter(batch[0].record, error)

    commits = Commits()  # offsets committed after the work, at most once a second (shared/commits.py)
    subscriber = broker.subscriber(
        *topics, group_id=group, batch=True, max_records=max_records, auto_offset_reset="earliest",
        decoder=the_message, listener=commits,
        ack_policy=AckPolicy.MANUAL, max_poll_interval_ms=300_000, fetch_max_wait_ms=FETCH_WAIT_MS,
        consumer_timeout_ms=FETCH_LOOP_WAIT_MS,
        # A killed member's partitions move on after 6 s (the broker's minimum), not the default 10 s.
        session_timeout_ms=6_000, heartbeat_interval_ms=2_000,
    )
    long_polls(subscriber, max_records, settings.consumer_linger_ms if linger_ms is None else linger_ms)
    consumer_lag.watch(service, group, subscriber)
    metrics_of = topic_metrics(service)

    async def handled(records: list[ConsumerRecord]) -> tuple[dict[str, int], float]:
        """Decodes the batch's messages and settles them; answers how many of each topic's were handled, and how long
        that took. What it decoded is freed as it returns, before the collector is let go (on_batch)."""
        deliveries: list[Delivery[T]] = []
        for record in records:
            if wanted is not None and (kind := event_type_of(record)) is not None and kind not in wanted:
                continue
            try:
                deliveries.append(Delivery(decode(record.value), record))
            except Exception as exc:  # not one of our messages: no retry can fix it
                await dead_letter(record, exc)
        if not deliveries:
            return {}, 0.0
        started = time.perf_counter()
        of_topic: dict[str, list[Delivery[T]]] = {}
        if len(topics) == 1:
            of_topic[topics[0]] = deliveries
        else:
            for delivery in deliveries:
                of_topic.setdefault(delivery.record.topic, []).append(delivery)
        if not by_topic:
            await settle(deliveries)
        else:
            outcomes = await asyncio.gather(*map(settle, of_topic.values()), return_exceptions=True)
            if failures := [o for o in outcomes if isinstance(o, BaseException)]:
                # A transient failure first: the whole batch is redelivered, the topics applied meanwhile too.
                raise next((f for f in failures if isinstance(f, TRANSIENT)), failures[0])
        return {topic: len(of) for topic, of in of_topic.items()}, time.perf_counter() - started

    @subscriber(parser=records_as_they_came(subscriber))
    async def on_batch(msg: Any) -> None:  # the KafkaMessage, by `the_message`
        records = records_of(msg)
        try:
            with collector_held():  # no pass over the batch's young objects while it runs (shared/collector.py)
                counts, seconds = await handled(records)
        except TRANSIENT as exc:
            # Rewind to the batch's first offsets; idempotent handlers make the redelivery harmless.
            log.warning("infrastructure unavailable; batch will be redelivered", error=repr(exc))
            await asyncio.sleep(TRANSIENT_PAUSE)
            await msg.nack()
            return
        except Exception:  # e.g. a dead letter that could not be sent: committed all the same, as it always was
            commits.handled(msg.consumer, records)
            raise
        commits.handled(msg.consumer, records)
        for topic, count in counts.items():  # topics handled together: each batch took as long as them all
            metrics_of(topic).handled(count, seconds)
