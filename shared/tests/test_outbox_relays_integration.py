"""Two outbox relays over one schema, as two instances of a service run them: they share the rows by key bucket,
each key's messages still leave in order, and every row leaves."""

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

import pytest

from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, make_broker, row_publisher
from shared.outbox import Outbox, OutboxMessage, OutboxRelay, OutboxRow
from shared.settings import Settings
from shared.tests.test_delivery_integration import read_topic
from shared.topics import TopicSpec

pytestmark = pytest.mark.integration

MESSAGES, KEYS, BATCH = 6000, 400, 500


async def test_two_relays_share_one_outbox_and_keep_each_keys_order(settings: Settings) -> None:
    schema, topic = settings.schema("relaypair"), settings.topic("relay-pair")
    await ensure_topics(settings, [TopicSpec("relay-pair", "k", (), ())])
    pool = await create_pool(settings.database_url, schema, max_size=6)
    await migrate(pool, schema, "projector")
    broker = make_broker(settings, "test")
    await broker.start()
    outbox = Outbox(schema)
    published: Counter[int] = Counter()  # rows each relay published
    in_flight: list[int] = [0, 0]  # publishes under way now, most at once

    def counting(which: int) -> object:
        publish = row_publisher(broker)

        async def send(rows: Sequence[OutboxRow]) -> None:
            published[which] += len(rows)
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            try:
                await asyncio.sleep(0.05)  # a slower Kafka, so that rounds can overlap
                await publish(rows)
            finally:
                in_flight[0] -= 1
        return send

    relays = [OutboxRelay(pool, outbox, counting(i), batch_size=BATCH) for i in range(2)]  # type: ignore[arg-type]
    try:
        messages = [OutboxMessage(topic, json.dumps({"n": i}).encode(), f"key{i % KEYS}".encode())
                    for i in range(MESSAGES)]
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, messages)

        for relay in relays:
            await relay.start()
        records = await read_topic(settings, topic, MESSAGES, timeout=60)

        assert len({json.loads(r.value)["n"] for r in records}) == MESSAGES
        for key in range(KEYS):
            ns = [json.loads(r.value)["n"] for r in records if r.key == f"key{key}".encode()]
            assert ns == sorted(ns), f"key{key} out of order"
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
        # Both published a share of the rows, at the same time: not one waiting for the other's lock.
        assert published[0] >= BATCH and published[1] >= BATCH, published
        assert in_flight[1] == 2
    finally:
        for relay in relays:
            await relay.stop()
        await broker.stop()
        await pool.close()
