"""Two outbox relays over one schema, as two instances of a service run them: they share the rows by key bucket,
each key's messages still leave in order, and every row leaves."""

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

import pytest

from shared.db import create_pool, migrate
from shared.kafka import ensure_topics, make_broker, row_publisher
from shared.outbox import (
    HELD_LOOK_SECONDS,
    KEY_BUCKETS,
    Outbox,
    OutboxMessage,
    OutboxRelay,
    OutboxRow,
    key_bucket,
    relay_lock_label,
)
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
                await asyncio.sleep(0.2)  # a slower Kafka, so that rounds overlap
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


async def test_a_relay_that_finds_every_bucket_held_looks_again_at_once(settings: Settings) -> None:
    """Another instance's relay in a round alone holds every bucket; its next round leaves half of them if it has a
    backlog, so this one looks again in HELD_LOOK_SECONDS, not a second later."""
    schema = settings.schema("relayheld")
    pool = await create_pool(settings.database_url, schema, max_size=3)
    await migrate(pool, schema, "projector")
    outbox = Outbox(schema)
    sent: list[OutboxRow] = []

    async def publish(rows: Sequence[OutboxRow]) -> None:
        sent.extend(rows)

    relay = OutboxRelay(pool, outbox, publish)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage("t", b"v", f"k{i}".encode()) for i in range(50)])
        lock = "SELECT pg_advisory_lock(hashtext($1), b) FROM unnest($2::int[]) b"
        half = list(range(0, KEY_BUCKETS, 2))
        async with pool.acquire() as other:  # session locks, as the other relay's round holds them: let go at will
            await other.execute(lock, relay_lock_label(schema), list(range(KEY_BUCKETS)))
            assert await relay.drain_once() == (0, HELD_LOOK_SECONDS)
            assert sent == []
            # The other relay's next round holds half the buckets: this one publishes the rest's rows meanwhile.
            await other.execute("SELECT pg_advisory_unlock_all()")
            await other.execute(lock, relay_lock_label(schema), half)
            published, _ = await relay.drain_once()
        bucket = key_bucket("key")
        sent_buckets = {r[0] for r in await pool.fetch(f"SELECT DISTINCT {bucket} FROM unnest($1::bytea[]) key",
                                                        [row.key for row in sent])}
        left_buckets = {r[0] for r in await pool.fetch(f"SELECT DISTINCT {bucket} FROM outbox")}
        assert published == len(sent) > 0
        assert sent_buckets and not sent_buckets & set(half)
        assert left_buckets and left_buckets <= set(half)  # the held half's rows wait for their relay
    finally:
        await pool.close()
