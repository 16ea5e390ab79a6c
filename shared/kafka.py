"""Kafka helpers: the broker every service uses, topic creation, raw publishing for outbox and DLQ, and what a
process knows of Kafka's health."""

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker
from faststream.kafka.publisher.state import RealProducer
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.ids import new_id
from shared.logging import get_logger
from shared.metrics import count_produced
from shared.outbox import OutboxRow, PublishRows
from shared.partitioning import KeyPartitioner, partition_of
from shared.settings import Settings
from shared.topics import BOARD_RESPONSES, RECORD_EVENTS, SUBMISSIONS, TopicSpec

log = get_logger(__name__)

# Kafka's default max.message.bytes (topics are created without their own) and aiokafka's max_request_size: a
# message over it is refused by the producer or the broker.
KAFKA_MAX_MESSAGE_BYTES = 1024 * 1024


def bootstrap_servers(settings: Settings) -> list[str]:
    """host:port of each bootstrap server. A list: FastStream takes a string as one server, so a cluster's
    comma-separated servers would be one unresolvable host."""
    return [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS for the SSL and SASL_SSL protocols: brokers checked against the CA file (or the system's CAs), host
    names checked, and the client certificate shown when one is set."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    password = settings.kafka_ssl_key_password
    context: ssl.SSLContext = create_ssl_context(cafile=settings.kafka_ssl_cafile, certfile=settings.kafka_ssl_certfile,
                                                 keyfile=settings.kafka_ssl_keyfile,
                                                 password=password.get_secret_value() if password else None)
    return context


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """The settings' security as FastStream takes it (it hands it on to every client the broker makes)."""
    protocol, context = settings.kafka_security_protocol, kafka_ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    assert settings.kafka_sasl_username and settings.kafka_sasl_password  # Settings refuses SASL without them
    return sasl[settings.kafka_sasl_mechanism](settings.kafka_sasl_username,
                                               settings.kafka_sasl_password.get_secret_value(),
                                               ssl_context=context, use_ssl=protocol == "SASL_SSL")


def kafka_client_args(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for a plain aiokafka client (consumer, producer, admin): the bootstrap servers and the
    same security FastStream's clients get, by FastStream's own translation, so the two never disagree."""
    return {"bootstrap_servers": bootstrap_servers(settings), **parse_security(kafka_security(settings))}


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    # ACK: a subscriber that names no policy commits after its handler returns, never before (FastStream's default
    # is ACK_FIRST); subscribe_batches commits after the work too, at most once a second (shared/commits.py).
    # Idempotent producer: retries never duplicate or reorder a partition's messages. acks=all (idempotence needs
    # it; said here so nobody lowers it): a write is answered once every in-sync replica has it, at least
    # min.insync.replicas of them, so a leader dying after its answer loses nothing.
    return KafkaBroker(
        bootstrap_servers(settings),
        client_id=f"pars-{service}",
        ack_policy=AckPolicy.ACK,
        acks="all",
        enable_idempotence=True,
        security=kafka_security(settings),
        # No linger: aiokafka sends one produce request at a time to a broker, so what is sent while one is in
        # flight goes in the next anyway (batches grow with the load); a 5 ms linger only delayed each hop's answer
        # (at 100 completions/s a caller's p50 was twice as long: docs/PERFORMANCE.md).
        linger_ms=0,
        max_batch_size=512 * 1024,
        partitioner=KeyPartitioner(),  # Kafka's default partitioner, faster (shared.partitioning)
        allow_auto_create_topics=False,
        graceful_timeout=20.0,
        logger=None,
    )


def row_publisher(broker: KafkaBroker) -> PublishRows:
    async def publish(rows: Sequence[OutboxRow]) -> None:
        producer = _producer_of(broker)
        if producer is None:  # FastStream's test broker: its own publish
            pending = [await broker.publish(row.value, row.topic, key=row.key, headers=row.headers, no_confirm=True)
                       for row in rows]
        else:
            pending = await _send_in_batches(producer, rows)
        await asyncio.gather(*pending)
        count_produced(rows)

    return publish


async def _send_in_batches(producer: Any, rows: Sequence[OutboxRow]) -> list[asyncio.Future[Any]]:
    """Queues the rows, each partition's in batches of our own and in order (one round: the acks are awaited by the
    caller). Sent one by one (`producer.send`), 5,000 rows cost 18.5-18.7 µs of CPU a message here, acks included:
    5-6 for each message's own future and the accumulator's work, 4.5-5.4 for aiokafka's byte-by-byte murmur2; in
    batches of our own, with the partition from the faster hash (shared.partitioning), 8.9-9.6. The producer still
    numbers each batch for idempotence when it sends it, and keeps one batch per partition queued at a time, so a
    partition's order holds."""
    partitions: dict[str, tuple[list[int], list[int]]] = {}
    batches: dict[tuple[str, int], Any] = {}  # (topic, partition): aiokafka BatchBuilder
    queued: list[asyncio.Future[Any]] = []
    for row in rows:
        if (known := partitions.get(row.topic)) is None:
            known = partitions[row.topic] = (sorted(await producer.partitions_for(row.topic)),
                                             list(producer.client.cluster.available_partitions_for_topic(row.topic)))
        where = (row.topic, partition_of(row.key, *known))
        message = {"key": row.key, "value": row.value, "timestamp": None,
                   "headers": _as_faststream_sends(row.headers)}
        batch = batches.get(where)
        if batch is not None and batch.append(**message) is not None:
            continue
        if batch is not None:  # full: queued, and the partition's next rows go in a new one
            queued.append(await producer.send_batch(batch, where[0], partition=where[1]))
        batch = batches[where] = producer.create_batch()
        batch.append(**message)  # an empty batch takes any message the producer would
    for (topic, partition), batch in batches.items():
        queued.append(await producer.send_batch(batch, topic, partition=partition))
    return queued


def _producer_of(broker: KafkaBroker) -> Any:
    """The broker's aiokafka producer, None if it has none (FastStream's test broker, or not connected). Rows are
    already bytes with their headers: FastStream's publish only added a command object, its middleware chain and a
    correlation ID per message (half of what a router spent publishing a record, in py-spy under wrk)."""
    state = getattr(broker.config.producer, "_producer", None)
    return state.producer if isinstance(state, RealProducer) else None


def _as_faststream_sends(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    """The headers FastStream's publish of bytes sends: an empty content-type, a correlation ID (the row's, else a
    new one), then the row's, in that order; so a message is the same whichever way it left."""
    merged = {"content-type": "", "correlation_id": headers.get("correlation_id") or str(new_id()), **headers}
    return [(name, (value or "").encode()) for name, value in merged.items()]


async def kafka_answers(broker: KafkaBroker, within: float) -> bool:
    """Whether the broker answers a metadata request for no topic at all (only its brokers), retried for
    `within` seconds. FastStream's broker.ping asks for every topic's metadata: its cost grew with the broker's topic
    count (~20% of intake's busy samples with 650 topics), this one's does not."""
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    await broker.config.admin_client.describe_topics([])
                    return True
                except IncorrectState:  # the broker is not started, or stopped
                    return False
                except Exception:
                    await asyncio.sleep(within / 10)
    except TimeoutError:
        return False


class KafkaHealth:
    """Whether Kafka answered this process lately. A probe asks every second, and at once when a publish failed,
    so a request can be refused during an outage instead of waiting out aiokafka's 40 s time-outs."""

    def __init__(self, every: float = 1.0, timeout: float = 3.0) -> None:
        self.reachable = True  # the broker connected at start-up
        self._every, self._timeout = every, timeout
        self._wake = asyncio.Event()

    def suspect(self) -> None:
        """A publish failed or took too long: probe now."""
        self._wake.set()

    async def watch(self, broker: KafkaBroker) -> None:
        while True:
            reachable = await kafka_answers(broker, self._timeout)
            if reachable != self.reachable:
                (log.info if reachable else log.warning)("kafka reachable" if reachable else "kafka unreachable")
            self.reachable = reachable
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every)


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topics: list[str], within: float = 15.0) -> None:
    """New topics take a moment to elect partition leaders; consumers that start earlier log errors."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(topics)
        if all(t.get("error_code", 0) == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
               for t in described):
            return
        await asyncio.sleep(0.1)


# The topics every record passes through, whose partitions bound how many processes share a service's work.
RECORD_TOPICS = frozenset({SUBMISSIONS.name, RECORD_EVENTS.name, BOARD_RESPONSES.name})


def topic_partitions(settings: Settings, spec: TopicSpec) -> int:
    """The record topics have PARS_KAFKA_PARTITIONS; the others keep the registry's count: a board's requests are
    a share of the records (and there is a topic per board), activities and dead letters are few."""
    return settings.kafka_partitions if spec.name in RECORD_TOPICS else spec.partitions


def new_topic(settings: Settings, spec: TopicSpec) -> NewTopic:
    configs = ({"min.insync.replicas": str(settings.kafka_min_insync_replicas)}
               if settings.kafka_min_insync_replicas is not None else {})
    return NewTopic(settings.topic(spec.name), topic_partitions(settings, spec), settings.kafka_replication_factor,
                    topic_configs=configs)


class TopicsRefused(RuntimeError):
    """Kafka would not create topics the stack needs (e.g. more replicas than it has brokers)."""


async def ensure_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet: partitions, replication factor and min.insync.replicas from the
    settings (topic_partitions)."""
    admin = AIOKafkaAdminClient(**kafka_client_args(settings), client_id="pars-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {settings.topic(s.name): s for s in specs}
        missing = [new_topic(settings, s) for name, s in wanted.items() if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created by another process meanwhile
                answer = await admin.create_topics(missing)
                # Kafka answers each topic's refusal in the response (aiokafka raises none of them): a replication
                # factor the cluster cannot reach must stop the set-up, not pass as "created".
                refused = [f"{topic}: {message or code}" for topic, code, message in answer.topic_errors
                           if code not in (0, TopicAlreadyExistsError.errno)]
                if refused:
                    raise TopicsRefused("Kafka refused to create topics: " + "; ".join(refused))
            await _wait_for_leaders(admin, [t.name for t in missing])
            log.info("topics created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
