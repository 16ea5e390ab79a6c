"""Batches that grow under load (shared.consumer.long_polls), against the real Kafka: while messages flow, a
lingering consumer takes what arrived meanwhile in one batch; once the flow stops, the next message is handled at
once again."""

import asyncio
import json

import pytest

from shared.consumer import Delivery, subscribe_batches
from shared.kafka import ensure_topics, make_broker
from shared.settings import Settings
from shared.topics import TopicSpec

pytestmark = pytest.mark.integration

LINGER_MS = 1000


async def test_a_lingering_consumer_batches_a_flow_and_answers_a_lone_message_at_once(settings: Settings) -> None:
    await ensure_topics(settings, [TopicSpec("linger-test", "k", (), (), partitions=1)])
    topic = settings.topic("linger-test")
    batches: list[list[int]] = []
    handled_at: dict[int, float] = {}
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def handle(batch: list[Delivery[dict[str, int]]]) -> None:
        batches.append([d.message["n"] for d in batch])
        handled_at.update((d.message["n"], loop.time()) for d in batch)
        arrived.set()

    async def handled(n: int) -> None:
        async with asyncio.timeout(20):
            while n not in handled_at:
                arrived.clear()
                await arrived.wait()

    broker = make_broker(settings, "tester")
    subscribe_batches(broker, settings, service="tester", topics=[topic], group=settings.group("linger-test"),
                      decode=json.loads, handle=handle, linger_ms=LINGER_MS)
    await broker.start()
    try:
        await broker.publish(b'{"n": 0}', topic, key=b"k")  # the first of a flow: answered by the long poll
        await handled(0)
        for n in range(1, 41):  # 40 messages over about 200 ms, well within one linger
            await broker.publish(json.dumps({"n": n}).encode(), topic, key=b"k")
            await asyncio.sleep(0.005)
        await handled(40)
        flow = [b for b in batches if b != [0]]
        assert sorted(n for b in flow for n in b) == list(range(1, 41))
        assert len(flow) <= 3, f"a flow of 40 messages came in {len(flow)} batches: {flow}"

        await asyncio.sleep(2 * LINGER_MS / 1000 + 1.0)  # the flow has stopped: back to the long poll
        sent = loop.time()
        await broker.publish(b'{"n": 100}', topic, key=b"k")
        await handled(100)
        assert handled_at[100] - sent < LINGER_MS / 1000 / 2, "a lone message waited for a linger"
    finally:
        await broker.stop()
