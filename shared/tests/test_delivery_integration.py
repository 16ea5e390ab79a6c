"""The delivery machinery against the real Kafka and PostgreSQL: migrations, outbox relay, retries, DLQ."""

import asyncio
import gc
import json
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from itertools import pairwise
from typing import cast

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from shared.consumer import FETCH_WAIT_MS, TRANSIENT_PAUSE, Delivery, subscribe_batches
from shared.db import create_pool, migrate
from shared.events import DeleteSubmitted, RecordSubmitted
from shared.kafka import ensure_topics, make_broker, row_publisher
from shared.outbox import Outbox, OutboxMessage, OutboxRelay, OutboxRow, OutboxSettler
from shared.service_registry import VALIDATION
from shared.settings import Settings
from shared.topics import TopicSpec, dead_letters

pytestmark = pytest.mark.integration


async def read_topic(settings: Settings, topic: str, count: int, timeout: float = 20.0) -> list:  # noqa: ASYNC109
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    got: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < count and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


async def committed_offset(settings: Settings, group: str, topic: str) -> int | None:
    """The offset `group` committed in partition 0 of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def until_handled(handled: list[str], count: int) -> None:
    """Until the handler has applied `count` messages, or 10 s passed."""
    for _ in range(100):
        if len(handled) >= count:
            return
        await asyncio.sleep(0.1)


async def test_migrations_apply_once_even_when_instances_start_together(settings: Settings) -> None:
    schema = settings.schema(VALIDATION.schema)
    pools = [await create_pool(settings.database_url, schema) for _ in range(3)]
    try:
        expected = len(list(files("shared").joinpath("migrations").iterdir())) + len(
            [f for f in files(VALIDATION.package).joinpath("migrations").iterdir() if f.name.endswith(".sql")])
        applied = await asyncio.gather(*(migrate(p, schema, VALIDATION.package) for p in pools))
        assert sorted(len(a) for a in applied) == [0, 0, expected]
        assert await migrate(pools[0], schema, VALIDATION.package) == []
        assert await pools[0].fetchval("SELECT count(*) FROM schema_migrations") == expected
    finally:
        for p in pools:
            await p.close()


async def test_outbox_relay_publishes_each_key_in_order_then_empties(settings: Settings) -> None:
    schema, topic = settings.schema("outboxtest"), settings.topic("outbox-test")
    await ensure_topics(settings, [TopicSpec("outbox-test", "k", (), ())])
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    broker = make_broker(settings, "test")
    await broker.start()
    outbox = Outbox(schema)
    relay = OutboxRelay(pool, outbox, row_publisher(broker), batch_size=150)
    try:
        messages = [OutboxMessage(topic, json.dumps({"k": i % 7, "n": i}).encode(), f"key{i % 7}".encode())
                    for i in range(500)]
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, messages)
        await relay.start()
        records = await read_topic(settings, topic, 500)
        assert len(records) == 500
        for key in range(7):
            ns = [json.loads(r.value)["n"] for r in records if r.key == f"key{key}".encode()]
            assert ns == sorted(ns) and len(ns) == len(range(key, 500, 7))
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await relay.stop()
        await broker.stop()
        await pool.close()


async def test_the_settler_deletes_what_writers_published_and_only_that(settings: Settings) -> None:
    schema = settings.schema("settlertest")
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    outbox, settler = Outbox(schema), OutboxSettler(pool)
    try:
        async with pool.acquire() as conn:
            ids = await outbox.enqueue(conn, [OutboxMessage("t", b"{}") for _ in range(30)], hand_over_after=10)
        for start in range(0, 20, 2):  # many writers' rows, settled one request at a time
            settler.settle(ids[start:start + 2])
        await settler.stop()  # deletes what is still pending
        assert await pool.fetchval("SELECT array_agg(id ORDER BY id) FROM outbox") == ids[20:]
    finally:
        await pool.close()


class _CountingPool:
    """A pool's `execute`, counting the statements run through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool, self.statements = pool, 0

    async def execute(self, query: str, *args: object) -> str:
        self.statements += 1
        return await self.pool.execute(query, *args)


async def test_the_settler_deletes_what_was_published_within_its_gathering_in_one_statement(
        settings: Settings) -> None:
    schema = settings.schema("settlergather")
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    counting = _CountingPool(pool)
    gathering, waiting_long = (OutboxSettler(cast(asyncpg.Pool, counting), gather_seconds=g) for g in (0.5, 60))
    try:
        async with pool.acquire() as conn:
            ids = await Outbox(schema).enqueue(conn, [OutboxMessage("t", b"{}") for _ in range(8)], hand_over_after=10)
        for start in range(0, 6, 2):  # three batches published a little apart, as at a few batches a second
            gathering.settle(ids[start:start + 2])
            await asyncio.sleep(0.05)
        for _ in range(100):
            if await pool.fetchval("SELECT count(*) FROM outbox") == 2:
                break
            await asyncio.sleep(0.05)
        assert await pool.fetchval("SELECT array_agg(id ORDER BY id) FROM outbox") == ids[6:]
        assert counting.statements == 1

        waiting_long.settle(ids[6:])
        async with asyncio.timeout(10):  # a stop ends the gathering at once, and deletes what it gathered
            await waiting_long.stop()
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
        assert counting.statements == 2
    finally:
        await gathering.stop()
        await pool.close()


async def test_outbox_holds_a_message_until_its_time(settings: Settings) -> None:
    schema, topic = settings.schema("outboxlater"), settings.topic("outbox-later")
    await ensure_topics(settings, [TopicSpec("outbox-later", "k", (), (), partitions=1)])
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    broker = make_broker(settings, "test")
    await broker.start()
    outbox = Outbox(schema)
    relay = OutboxRelay(pool, outbox, row_publisher(broker))
    await relay.start()
    try:
        due = datetime.now(UTC) + timedelta(seconds=2)
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage(topic, b"later", b"k", not_before=due)])
        assert await read_topic(settings, topic, 1, timeout=1.0) == []
        [record] = await read_topic(settings, topic, 1, timeout=10.0)
        assert record.value == b"later" and record.timestamp / 1000 >= due.timestamp() - 0.05
    finally:
        await relay.stop()
        await broker.stop()
        await pool.close()


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_rest_are_applied(settings: Settings) -> None:
    source = settings.topic("dlq-source")
    await ensure_topics(settings, [TopicSpec("dlq-source", "k", (), (), partitions=1),
                                   dead_letters("tester")])
    handled: list[str] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        if any(d.message["n"] == "poison" for d in batch):
            raise ValueError("cannot apply this one")
        handled.extend(d.message["n"] for d in batch)

    broker = make_broker(settings, "tester")
    group = settings.group("dlq-test")
    subscribe_batches(broker, settings, service="tester", topics=[source], group=group, decode=json.loads,
                      handle=handle, retry_delays=(0.05, 0.05))
    await broker.start()
    try:
        for value in ([{"n": "a"}, {"n": "b"}, {"n": "poison"}, {"n": "c"}]):
            await broker.publish(json.dumps(value).encode(), source, key=b"k")
        await broker.publish(b"\xff not json", source, key=b"k")
        await broker.publish(json.dumps({"n": "d"}).encode(), source, key=b"k")

        dead = await read_topic(settings, settings.topic(dead_letters("tester").name), 2)
        assert len(dead) == 2
        headers = [dict(r.headers) for r in dead]
        assert {h["dlq.source.topic"] for h in headers} == {source.encode()}
        assert sorted(int(h["dlq.source.offset"]) for h in headers) == [2, 4]
        assert any(b"cannot apply this one" in h["dlq.error"] for h in headers)
        assert {r.value for r in dead} == {b'{"n": "poison"}', b"\xff not json"}
        await until_handled(handled, 4)
        assert sorted(handled) == ["a", "b", "c", "d"]
    finally:
        await broker.stop()
    # Offsets were committed past everything, the dead letters included: nothing spins, nothing is lost.
    assert await committed_offset(settings, group, source) == 6


async def test_events_a_handler_does_not_read_are_passed_over_undecoded_and_committed(settings: Settings) -> None:
    source = settings.topic("only-source")
    await ensure_topics(settings, [TopicSpec("only-source", "k", (), (), partitions=1),
                                   dead_letters("picky")])
    handled: list[str] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        handled.extend(d.message["n"] for d in batch)

    broker = make_broker(settings, "picky")
    group = settings.group("only-test")
    subscribe_batches(broker, settings, service="picky", topics=[source], group=group, decode=json.loads,
                      handle=handle, only=(RecordSubmitted, DeleteSubmitted))
    await broker.start()
    try:
        sent = [({"event_type": "RecordSubmitted"}, b'{"n": "submitted"}'),
                ({"event_type": "RecordAccepted"}, b"\xff never decoded, so never dead-lettered"),
                ({}, b'{"n": "no header: decoded"}'),
                ({"event_type": "DeleteSubmitted"}, b'{"n": "delete"}')]
        for headers, value in sent:
            await broker.publish(value, source, key=b"k", headers=headers)
        await until_handled(handled, 3)
        assert handled == ["submitted", "no header: decoded", "delete"]
    finally:
        await broker.stop()
    assert await read_topic(settings, settings.topic(dead_letters("picky").name), 1, timeout=1.0) == []
    assert await committed_offset(settings, group, source) == 4


@pytest.mark.parametrize("outage", [
    ConnectionRefusedError("database is restarting"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),  # a fast shutdown
], ids=["refused", "admin-shutdown"])
async def test_an_unavailable_database_redelivers_instead_of_dead_lettering(settings: Settings,
                                                                            outage: Exception) -> None:
    source = settings.topic("transient-source")
    await ensure_topics(settings, [TopicSpec("transient-source", "k", (), (), partitions=1),
                                   dead_letters("flaky")])
    attempts: list[str] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        attempts.append(batch[0].message["n"])
        if len(attempts) <= 5:  # more failures than a handler's own retries: only a rewind gets past them
            raise outage

    broker = make_broker(settings, "flaky")
    subscribe_batches(broker, settings, service="flaky", topics=[source], group=settings.group("flaky"),
                      decode=json.loads, handle=handle)
    await broker.start()
    try:
        await broker.publish(json.dumps({"n": "x"}).encode(), source, key=b"k")
        for _ in range(300):
            if len(attempts) >= 6:
                break
            await asyncio.sleep(0.1)
        assert attempts == ["x"] * 6
        assert await read_topic(settings, settings.topic(dead_letters("flaky").name), 1, timeout=1.5) == []
    finally:
        await broker.stop()


async def test_a_consumer_that_does_not_linger_redelivers_without_waiting_out_an_idle_fetch(
        settings: Settings) -> None:
    """Validation's consumer does not linger. A rewind (a transient failure) waits for the fetch in flight, sent
    when the batch was taken: while messages flow it asks the broker to wait FLOWING_FETCH_WAIT_MS at most, not the
    idle FETCH_WAIT_MS, so the batch comes again a pause after its failure, not once an idle fetch gives up."""
    source = settings.topic("eager-source")
    await ensure_topics(settings, [TopicSpec("eager-source", "k", (), (), partitions=1), dead_letters("eager")])
    attempts: list[float] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) <= 2:
            raise ConnectionRefusedError("database is restarting")

    broker = make_broker(settings, "eager")
    subscribe_batches(broker, settings, service="eager", topics=[source], group=settings.group("eager"),
                      decode=json.loads, handle=handle, linger_ms=0)
    await broker.start()
    try:
        await broker.publish(b'{"n": "x"}', source, key=b"k")
        for _ in range(300):
            if len(attempts) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(attempts) == 3, attempts
        gaps = [b - a for a, b in pairwise(attempts)]
        assert all(TRANSIENT_PAUSE <= gap < FETCH_WAIT_MS / 1000 for gap in gaps), gaps
    finally:
        await broker.stop()


async def test_an_idle_consumer_still_gets_each_message_at_once_and_stops_at_once(settings: Settings) -> None:
    """Idle consumers wait long in the broker (FETCH_WAIT_MS) and in their poll (POLL_WAIT_MS) to wake less
    often; both must end as soon as a message arrives, or the consumer stops."""
    source = settings.topic("idle-source")
    await ensure_topics(settings, [TopicSpec("idle-source", "k", (), (), partitions=3),
                                   dead_letters("idler")])
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def handle(batch: list[Delivery[dict]]) -> None:
        for _ in batch:
            arrived.put_nowait(asyncio.get_running_loop().time())

    broker = make_broker(settings, "idler")
    subscribe_batches(broker, settings, service="idler", topics=[source], group=settings.group("idler"),
                      decode=json.loads, handle=handle)
    await broker.start()
    try:
        await broker.publish(b'{"n": 0}', source, key=b"k0")  # the group has joined once this one is handled
        await asyncio.wait_for(arrived.get(), 30)
        waits = []
        for n in range(1, 4):
            await asyncio.sleep(1.2)  # idle: fetches and polls are in flight
            sent = asyncio.get_running_loop().time()
            await broker.publish(json.dumps({"n": n}).encode(), source, key=f"k{n}".encode())
            waits.append(await asyncio.wait_for(arrived.get(), 10) - sent)
        assert max(waits) < 1.0, waits  # a wait that did not end on data would take FETCH_WAIT_MS or more
    finally:
        began = asyncio.get_running_loop().time()
        await broker.stop()
    assert asyncio.get_running_loop().time() - began < 5.0


async def test_by_topic_a_failing_topic_neither_fails_nor_re_runs_another(settings: Settings) -> None:
    """One consumer for several topics (board-sim: a board per topic), `by_topic`: the handler sees one topic's
    messages at a time; a poison message on one is retried and dead-lettered alone, the other's applied once."""
    names = ("bytopic-a", "bytopic-b")
    await ensure_topics(settings, [*(TopicSpec(n, "k", (), (), partitions=1) for n in names),
                                   dead_letters("splitter")])
    a, b = (settings.topic(n) for n in names)
    calls: list[tuple[set[str], list[str]]] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        calls.append(({d.record.topic for d in batch}, [d.message["n"] for d in batch]))
        if any(d.message["n"] == "poison" for d in batch):
            raise ValueError("cannot apply this one")

    def applied_of_a() -> set[str]:  # a's messages in calls that succeeded (the failing ones held the poison)
        return {n for topics, ns in calls if topics == {a} and "poison" not in ns for n in ns}

    broker = make_broker(settings, "splitter")
    group = settings.group("bytopic-test")
    subscribe_batches(broker, settings, service="splitter", topics=[a, b], group=group, decode=json.loads,
                      handle=handle, retry_delays=(0.05, 0.05), by_topic=True)
    await broker.start()
    try:
        for topic, n in ((a, "a1"), (b, "b1"), (a, "poison"), (b, "b2"), (a, "a2")):
            await broker.publish(json.dumps({"n": n}).encode(), topic, key=b"k")
        [dead] = await read_topic(settings, settings.topic(dead_letters("splitter").name), 1)
        assert dict(dead.headers)["dlq.source.topic"] == a.encode() and dead.value == b'{"n": "poison"}'
        for _ in range(50):  # a2, once split from the poison, is applied after the dead letter is sent
            if {"a1", "a2"} <= applied_of_a():
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
    assert all(len(topics) == 1 for topics, _ in calls)  # never two topics in one call
    of_b = [n for topics, ns in calls if topics == {b} for n in ns]
    assert sorted(of_b) == ["b1", "b2"]  # applied once each: the poison on a did not re-run them
    assert {"a1", "a2"} <= applied_of_a()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group)
    await consumer.start()
    try:
        assert [await consumer.committed(TopicPartition(t, 0)) for t in (a, b)] == [3, 2]
    finally:
        await consumer.stop()


async def test_an_idle_relay_looks_seldom_yet_sends_at_once_even_after_losing_its_listener(settings: Settings) -> None:
    schema = settings.schema("relayidle")
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, "projector")
    outbox, sent = Outbox(schema), asyncio.Queue[bytes]()

    async def publish(rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            sent.put_nowait(row.value)

    relay = OutboxRelay(pool, outbox, publish)
    looks, drain = 0, relay.drain_once

    async def counted() -> tuple[int, float | None]:
        nonlocal looks
        looks += 1
        return await drain()

    relay.drain_once = counted  # type: ignore[method-assign]  # counts the relay's looks
    await relay.start()
    try:
        await asyncio.sleep(3.0)
        assert looks == 1  # the outbox is empty: the next look comes after IDLE_LOOK_SECONDS, not every second
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage("t", b"first", b"k")])
        assert await asyncio.wait_for(sent.get(), 1.0) == b"first"  # a NOTIFY wakes it at once
        # Its listening connection is lost (PostgreSQL restarted): NOTIFYs would go nowhere until the next look, so
        # it listens again at once.
        assert relay._listener is not None
        await pool.execute("SELECT pg_terminate_backend($1)", relay._listener.get_server_pid())
        await asyncio.sleep(0.5)
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, [OutboxMessage("t", b"second", b"k")])
        assert await asyncio.wait_for(sent.get(), 1.5) == b"second", looks
    finally:
        await relay.stop()
        await pool.close()


async def test_rows_go_to_their_keys_partitions_in_order_over_several_batches(settings: Settings) -> None:
    """row_publisher queues each partition's rows in batches of its own: every row lands in the partition aiokafka's
    own partitioner picks for its key, and each key's rows in the order given, also when a partition's rows fill
    several batches (512 KB each: here ≈ 1.4 MB a partition)."""
    await ensure_topics(settings, [TopicSpec("batched", "k", (), (), partitions=3)])
    topic = settings.topic("batched")
    keys = [f"0008001:c{i}".encode() for i in range(40)]
    rows = [OutboxRow(n, topic, keys[n % len(keys)], json.dumps({"n": n, "pad": "x" * 1000}).encode(),
                      {"event_type": "RecordSubmitted"}) for n in range(4000)]
    broker = make_broker(settings, "test")
    await broker.start()
    try:
        await row_publisher(broker)(rows)
    finally:
        await broker.stop()
    got = await read_topic(settings, topic, len(rows))
    assert len(got) == len(rows)
    partitions = [0, 1, 2]
    assert all(r.partition == DefaultPartitioner()(r.key, partitions, partitions) for r in got)
    assert len({r.partition for r in got}) == 3
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(got, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(json.loads(record.value)["n"])
    assert by_key == {key: list(range(i, len(rows), len(keys))) for i, key in enumerate(keys)}


async def test_rows_leave_with_the_headers_faststreams_publish_gives_them(settings: Settings) -> None:
    """row_publisher sends through aiokafka's producer itself; a message is the same as FastStream's publish made it:
    its value, key and headers in order (an empty content-type, the correlation ID, the row's own)."""
    await ensure_topics(settings, [TopicSpec("same-headers", "k", (), (), partitions=1)])
    topic = settings.topic("same-headers")
    broker = make_broker(settings, "test")
    await broker.start()
    rows = [OutboxRow(1, topic, b"k1", b'{"n": 1}', {"event_type": "RecordSubmitted", "correlation_id": "c-1"}),
            OutboxRow(2, topic, None, b'{"n": 2}', {"event_type": "RecordSubmitted"})]
    try:
        await row_publisher(broker)(rows)
        for row in rows:  # FastStream's own publish of the same rows
            await broker.publish(row.value, row.topic, key=row.key, headers=row.headers)
    finally:
        await broker.stop()
    ours, theirs = (records := await read_topic(settings, topic, 4))[:2], records[2:]
    for mine, faststreams in zip(ours, theirs, strict=True):
        assert (mine.key, mine.value) == (faststreams.key, faststreams.value)
        assert [name for name, _ in mine.headers] == [name for name, _ in faststreams.headers] == [
            "content-type", "correlation_id", "event_type"]
        assert dict(mine.headers)["content-type"] == b"" and dict(mine.headers)["event_type"] == b"RecordSubmitted"
    assert dict(ours[0].headers)["correlation_id"] == dict(theirs[0].headers)["correlation_id"] == b"c-1"
    assert len(dict(ours[1].headers)["correlation_id"]) == 36  # a new one, as FastStream makes when none is given


async def test_a_message_whose_headers_are_not_text_is_handled_like_any_other(settings: Settings) -> None:
    # Kafka headers are bytes; a foreign writer's need not be text. The handlers read the records' raw headers, so
    # such a message (and the batch it comes in) is handled as it is, and committed.
    source = settings.topic("binary-headers")
    await ensure_topics(settings, [TopicSpec("binary-headers", "k", (), (), partitions=1),
                                   dead_letters("lenient")])
    handled: list[str] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        handled.extend(d.message["n"] for d in batch)

    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for n, headers in (("a", [("correlation_id", b"c-1")]), ("binary", [("x-signature", b"\xff\xfe\x00")]),
                           ("b", [])):
            await producer.send_and_wait(source, json.dumps({"n": n}).encode(), key=b"k", headers=headers)
    finally:
        await producer.stop()
    broker = make_broker(settings, "lenient")
    group = settings.group("binary-headers-test")
    subscribe_batches(broker, settings, service="lenient", topics=[source], group=group, decode=json.loads,
                      handle=handle)
    await broker.start()
    try:
        await until_handled(handled, 3)
        assert handled == ["a", "binary", "b"]
    finally:
        await broker.stop()
    assert await read_topic(settings, settings.topic(dead_letters("lenient").name), 1, timeout=1.0) == []
    assert await committed_offset(settings, group, source) == 3


async def test_a_batch_is_handled_with_the_collector_held_and_freed_without_it(settings: Settings) -> None:
    # The collector is off while a batch is handled and on again after (shared.collector); and what the batch held
    # is freed by reference counts once it is handled, with no collector at all: FastStream's message keeps what the
    # decoder answered, and a message that kept itself held its batch's records until a full pass found the cycle.
    source = settings.topic("freed-batches")
    await ensure_topics(settings, [TopicSpec("freed-batches", "k", (), (), partitions=1), dead_letters("frugal")])
    handled: list[str] = []
    collecting: list[bool] = []
    records: list[weakref.ref[ConsumerRecord]] = []

    async def handle(batch: list[Delivery[dict]]) -> None:
        collecting.append(gc.isenabled())
        records.extend(weakref.ref(d.record) for d in batch)
        handled.extend(d.message["n"] for d in batch)

    broker = make_broker(settings, "frugal")
    subscribe_batches(broker, settings, service="frugal", topics=[source], group=settings.group("frugal-test"),
                      decode=json.loads, handle=handle)
    await broker.start()
    try:
        assert gc.isenabled()
        await broker.publish(b'{"n": "held"}', source, key=b"k")
        await until_handled(handled, 1)
        assert (handled, collecting, gc.isenabled()) == (["held"], [False], True)
        gc.disable()
        try:
            # FastStream's poll loop holds the batch it handled last until the next comes: the one before is freed.
            for n, message in enumerate((b'{"n": "freed"}', b'{"n": "next"}'), start=2):
                await broker.publish(message, source, key=b"k")
                await until_handled(handled, n)
            assert handled == ["held", "freed", "next"]
            assert records[1]() is None
        finally:
            gc.enable()
    finally:
        await broker.stop()
