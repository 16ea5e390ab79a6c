"""Offsets committed after the work, at most once a period (shared.commits), against the real Kafka: what is handled
is committed within the period, at a stop and before a rebalance takes partitions away; nothing handled is
redelivered after a clean stop, and a consumer commits far less often than it takes batches."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.commits import Commits
from shared.consumer import Delivery, subscribe_batches
from shared.kafka import ensure_topics, make_broker
from shared.settings import Settings
from shared.topics import TopicSpec

pytestmark = pytest.mark.integration


async def committed(settings: Settings, group: str) -> dict[int, int]:
    """The group's committed offset per partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: o.offset for tp, o in offsets.items()}


async def two_partitions_of_ten(settings: Settings, name: str) -> str:
    await ensure_topics(settings, [TopicSpec(name, "k", (), (), partitions=2)])
    topic = settings.topic(name)
    broker = make_broker(settings, "tester")
    await broker.start()
    try:
        for partition in (0, 1):
            for n in range(10):
                await broker.publish(json.dumps({"n": n}).encode(), topic, partition=partition)
    finally:
        await broker.stop()
    return topic


@asynccontextmanager
async def member(settings: Settings, topic: str, group: str, commits: Commits) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                session_timeout_ms=6_000, heartbeat_interval_ms=500)
    consumer.subscribe([topic], listener=commits)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def take(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord]:
    got: list[ConsumerRecord] = []
    async with asyncio.timeout(20):
        while len(got) < count:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                got.extend(records)
    return got


async def test_handled_offsets_are_committed_within_the_period_not_before(settings: Settings) -> None:
    topic = await two_partitions_of_ten(settings, "commits-period")
    group = settings.group("commits-period")
    commits = Commits(every=1.0)
    async with member(settings, topic, group, commits) as consumer:
        records = await take(consumer, 20)
        commits.handled(consumer, records[:15])  # what the handler has made durable so far
        assert await committed(settings, group) == {}
        await asyncio.sleep(1.5)
        by_partition = {p: max(r.offset for r in records[:15] if r.partition == p) + 1
                        for p in {r.partition for r in records[:15]}}
        assert await committed(settings, group) == by_partition


async def test_a_stopping_consumer_commits_what_it_handled(settings: Settings) -> None:
    topic = await two_partitions_of_ten(settings, "commits-stop")
    group = settings.group("commits-stop")
    commits = Commits(every=60.0)  # only the stop can have committed
    async with member(settings, topic, group, commits) as consumer:
        commits.handled(consumer, await take(consumer, 20))
    assert await committed(settings, group) == {0: 10, 1: 10}
    async with member(settings, topic, group, Commits()) as again:
        assert await again.getmany(timeout_ms=2_000) == {}  # nothing handled comes back


async def test_a_rebalance_commits_before_the_partitions_go(settings: Settings) -> None:
    topic = await two_partitions_of_ten(settings, "commits-rebalance")
    group = settings.group("commits-rebalance")
    commits = Commits(every=60.0)  # only the revocation can have committed
    async with member(settings, topic, group, commits) as first:
        commits.handled(first, await take(first, 20))
        polling = asyncio.create_task(first.getmany(timeout_ms=10_000))  # a member that keeps polling, as ours do
        async with member(settings, topic, group, Commits()) as second:
            async with asyncio.timeout(20):
                while not second.assignment():
                    await second.getmany(timeout_ms=200)
            assert await committed(settings, group) == {0: 10, 1: 10}
            assert await second.getmany(timeout_ms=1_000) == {}
        await polling


async def test_a_batch_consumer_commits_about_once_a_second_and_all_it_handled_at_stop(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    await ensure_topics(settings, [TopicSpec("commits-batches", "k", (), (), partitions=1)])
    topic, group = settings.topic("commits-batches"), settings.group("commits-batches")
    commit_calls = 0
    original = AIOKafkaConsumer.commit

    async def counted(self: AIOKafkaConsumer, offsets: dict[TopicPartition, int] | None = None) -> None:
        nonlocal commit_calls
        commit_calls += 1
        await original(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    handled: list[int] = []
    batches = 0
    arrived = asyncio.Event()

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        nonlocal batches
        batches += 1
        handled.extend(d.message["n"] for d in batch)
        arrived.set()

    broker = make_broker(settings, "tester")
    subscribe_batches(broker, settings, service="tester", topics=[topic], group=group, decode=json.loads,
                      handle=handle, linger_ms=0)
    await broker.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(40):  # one at a time: a batch each
            await broker.publish(json.dumps({"n": n}).encode(), topic, key=b"k")
            async with asyncio.timeout(20):
                while n not in handled:
                    arrived.clear()
                    await arrived.wait()
        seconds = loop.time() - started
    finally:
        await broker.stop()  # commits what is pending
    assert handled == list(range(40))
    assert batches >= 20
    assert commit_calls <= seconds + 2, f"{commit_calls} commits for {batches} batches in {seconds:.1f} s"
    assert await committed(settings, group) == {0: 40}
