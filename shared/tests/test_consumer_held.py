"""A poll takes every fetched record and hands at most `max_records` (shared.consumer._Held), against the real Kafka.

aiokafka leaves out of its next fetch every partition whose fetched records are still unread. Taken at once, none is
left out for longer than the fetch in flight; a rewind still brings a partition's records again in order."""

import asyncio
import json

import pytest
from faststream.kafka import KafkaBroker

from shared.consumer import Delivery, subscribe_batches
from shared.kafka import ensure_topics, make_broker
from shared.settings import Settings
from shared.topics import TopicSpec

pytestmark = pytest.mark.integration

LINGER_MS = 4000


async def _publish(broker: KafkaBroker, topic: str, partition: int, numbers: range) -> None:
    for n in numbers:
        await broker.publish(json.dumps({"p": partition, "n": n}).encode(), topic, partition=partition)


async def test_a_partition_read_in_several_polls_is_in_the_next_fetch(settings: Settings) -> None:
    """Two partitions of 25 records each, and a handler that takes 10 at a time. Were the polls to take 10 each from
    the fetcher, the partition read last would still hold unread records when the other's fetch went out, and what
    it gets next would wait for that lingering fetch and then for one more (7.4 s measured). Taken at once, the first
    fetch after them asks for both partitions: one linger at most."""
    await ensure_topics(settings, [TopicSpec("held-fetch", "k", (), (), partitions=2)])
    topic = settings.topic("held-fetch")
    handled_at: dict[tuple[int, int], float] = {}
    batches: list[list[tuple[int, int]]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        await asyncio.sleep(0.3)  # longer than aiokafka's prefetch backoff: its fetch routine sends a fetch meanwhile
        batches.append([(d.message["p"], d.message["n"]) for d in batch])
        handled_at.update(((d.message["p"], d.message["n"]), loop.time()) for d in batch)
        arrived.set()

    async def handled(key: tuple[int, int]) -> None:
        async with asyncio.timeout(30):
            while key not in handled_at:
                arrived.clear()
                await arrived.wait()

    broker = make_broker(settings, "tester")
    await broker.connect()
    for partition in (0, 1):
        await _publish(broker, topic, partition, range(25))
    subscribe_batches(broker, settings, service="tester", topics=[topic], group=settings.group("held-fetch"),
                      decode=json.loads, handle=handle, max_records=10, linger_ms=LINGER_MS)
    await broker.start()
    try:
        await handled((0, 24))
        await handled((1, 24))
        assert max(map(len, batches)) <= 10, batches
        last, _ = batches[-1][-1]  # the partition whose records were handed last
        sent = loop.time()
        await _publish(broker, topic, last, range(25, 26))
        await handled((last, 25))
        waited = handled_at[(last, 25)] - sent
        assert waited < 1.25 * LINGER_MS / 1000, f"partition {last}'s next record waited {waited:.2f} s"
    finally:
        await broker.stop()


async def test_a_rewind_brings_a_partition_again_in_order(settings: Settings) -> None:
    """A transient failure rewinds the batch's partitions (a nack's seek). The records taken after that batch are
    dropped, not handed before the records the rewind brings again."""
    await ensure_topics(settings, [TopicSpec("held-rewind", "k", (), (), partitions=2)])
    topic = settings.topic("held-rewind")
    handled: dict[int, list[int]] = {0: [], 1: []}
    failed = False
    done = asyncio.Event()

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        nonlocal failed
        if not failed and any(d.message == {"p": 0, "n": 7} for d in batch):
            failed = True
            raise ConnectionRefusedError("database is restarting")
        for d in batch:
            handled[d.message["p"]].append(d.message["n"])
        if len(handled[0]) >= 20 and len(handled[1]) >= 20:
            done.set()

    broker = make_broker(settings, "tester")
    await broker.connect()
    await _publish(broker, topic, 0, range(20))
    await _publish(broker, topic, 1, range(20))
    subscribe_batches(broker, settings, service="tester", topics=[topic], group=settings.group("held-rewind"),
                      decode=json.loads, handle=handle, max_records=5, linger_ms=0)
    await broker.start()
    try:
        async with asyncio.timeout(30):
            await done.wait()
        assert failed
        assert handled[0] == list(range(20))  # each once, in order: nothing handed from before the rewind
        assert handled[1] == list(range(20))
    finally:
        await broker.stop()
