"""Kafka helpers: the broker every service uses, topic creation, raw publishing for outbox and DLQ, and what a
process knows of Kafka's health."""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker

from shared.logging import get_logger
from shared.outbox import OutboxRow, PublishRows
from shared.settings import Settings
from shared.topics import TopicSpec

log = get_logger(__name__)

# Kafka's default max.message.bytes (topics are created without their own) and aiokafka's max_request_size: a
# message over it is refused by the producer or the broker.
KAFKA_MAX_MESSAGE_BYTES = 1024 * 1024


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    # ACK: offsets are committed after the handler returns, never before (FastStream's default is ACK_FIRST).
    # Idempotent producer: retries never duplicate or reorder a partition's messages.
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"pars-{service}",
        ack_policy=AckPolicy.ACK,
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
        allow_auto_create_topics=False,
        graceful_timeout=20.0,
        logger=None,
    )


def row_publisher(broker: KafkaBroker) -> PublishRows:
    async def publish(rows: Sequence[OutboxRow]) -> None:
        # Queue every send first, then wait for all acks: one round of batches, order kept per partition.
        pending = [
            await broker.publish(row.value, row.topic, key=row.key, headers=row.headers, no_confirm=True)
            for row in rows
        ]
        await asyncio.gather(*pending)

    return publish


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


async def ensure_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet, with their registry partition counts."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="pars-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = {settings.topic(s.name): s for s in specs}
        missing = [NewTopic(name, s.partitions, 1) for name, s in wanted.items() if name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # created by another process meanwhile
                await admin.create_topics(missing)
            await _wait_for_leaders(admin, [t.name for t in missing])
            log.info("topics created", topics=[t.name for t in missing])
        return [t.name for t in missing]
    finally:
        await admin.close()
