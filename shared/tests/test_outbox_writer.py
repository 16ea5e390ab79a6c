"""OutboxWriter on the real PostgreSQL: a writer publishes its rows right after the commit, the relay sends what it
could not, and no row overtakes an earlier row of its key that is still waiting for the relay."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from shared.db import create_pool, migrate
from shared.outbox import Outbox, OutboxMessage, OutboxRelay, OutboxRow, OutboxWriter
from shared.settings import Settings

pytestmark = pytest.mark.integration


@dataclass
class Kafka:
    """A stand-in for Kafka that keeps what was published, in order, and can be made to fail."""

    sent: list[bytes] = field(default_factory=list)
    down: bool = False

    async def __call__(self, rows: Sequence[OutboxRow]) -> None:
        if self.down:
            raise KafkaConnectionError("no broker answers")
        self.sent += [r.value for r in rows]


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, settings.schema("writertest"))
    await migrate(pool, settings.schema("writertest"), "projector")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def outbox(settings: Settings) -> Outbox:
    return Outbox(settings.schema("writertest"))


def messages(key: str, *values: str) -> list[OutboxMessage]:
    return [OutboxMessage("t", v.encode(), key.encode()) for v in values]


async def keep(writer: OutboxWriter, pool: asyncpg.Pool, batch: list[OutboxMessage]) -> list[OutboxRow]:
    async with pool.acquire() as conn, conn.transaction():
        return await writer.enqueue(conn, batch)


async def outbox_rows(pool: asyncpg.Pool) -> list[tuple[bytes, bool]]:
    return [(r["value"], r["due"]) for r in
            await pool.fetch("SELECT value, not_before <= now() AS due FROM outbox ORDER BY id")]


async def relay_all(pool: asyncpg.Pool, outbox: Outbox, kafka: Kafka) -> None:
    relay = OutboxRelay(pool, outbox, kafka)
    while (await relay.drain_once())[0]:
        pass


async def test_a_writer_publishes_after_its_commit_and_its_rows_leave_the_outbox(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    writer = OutboxWriter(pool, outbox, kafka)
    rows = await keep(writer, pool, messages("k1", "a1", "a2") + messages("k2", "b1"))
    assert [r.value for r in rows] == [b"a1", b"a2", b"b1"]
    assert [due for _, due in await outbox_rows(pool)] == [False] * 3  # the relay leaves them to the writer
    assert await writer.publish(rows)
    await writer.stop()
    assert kafka.sent == [b"a1", b"a2", b"b1"]
    assert await outbox_rows(pool) == []


async def test_rows_a_failed_publish_left_to_the_relay_are_not_overtaken_by_later_rows_of_their_key(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    writer = OutboxWriter(pool, outbox, kafka)
    kafka.down = True
    assert not await writer.publish(await keep(writer, pool, messages("k1", "first")))
    assert await outbox_rows(pool) == [(b"first", True)]  # handed over: due at once
    kafka.down = False

    later = await keep(writer, pool, messages("k1", "second") + messages("k2", "other"))
    assert [r.value for r in later] == [b"other"]  # k1 waits behind its earlier row; k2 has none
    assert await writer.publish(later)
    await relay_all(pool, outbox, kafka)
    await writer.stop()
    assert kafka.sent == [b"other", b"first", b"second"]
    assert await outbox_rows(pool) == []


async def test_rows_of_a_writer_that_died_keep_their_place_before_a_new_writers(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    dead = OutboxWriter(pool, outbox, kafka, hand_over_after=0.5)
    await keep(dead, pool, messages("k1", "kept, never published"))  # the process dies after the commit
    writer = OutboxWriter(pool, outbox, kafka, hand_over_after=0.5)
    rows = await keep(writer, pool, messages("k1", "next") + messages("k2", "free"))
    assert [r.value for r in rows] == [b"free"]
    assert await writer.publish(rows)
    await relay_all(pool, outbox, kafka)
    assert kafka.sent == [b"free"]  # the relay leaves the dead writer's row for its hand-over time, and the next too
    await pool.execute("SELECT pg_sleep(0.6)")
    await relay_all(pool, outbox, kafka)
    await writer.stop()
    assert kafka.sent == [b"free", b"kept, never published", b"next"]


async def test_a_writers_own_published_rows_do_not_hold_back_its_next_batch(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    writer = OutboxWriter(pool, outbox, kafka)
    for n in range(5):  # the published rows may still be in the outbox when the next batch is kept
        rows = await keep(writer, pool, messages("k1", f"v{n}"))
        assert [r.value for r in rows] == [f"v{n}".encode()]
        assert await writer.publish(rows)
    await writer.stop()
    assert kafka.sent == [f"v{n}".encode() for n in range(5)]
    assert await outbox_rows(pool) == []


async def test_a_writer_forgets_its_rows_once_deleted_or_handed_over(pool: asyncpg.Pool, outbox: Outbox) -> None:
    """What a writer remembers of the rows it publishes (by id, and by topic and key) lasts until they are deleted or
    left to the relay: a long-running service's writer holds nothing between bursts."""
    kafka = Kafka()
    writer = OutboxWriter(pool, outbox, kafka)
    assert await writer.publish(await keep(writer, pool, messages("k1", "a1", "a2") + messages("k2", "b1")))
    kafka.down = True
    assert not await writer.publish(await keep(writer, pool, messages("k3", "c1")))
    await writer.stop()  # the published rows' DELETE has ended
    assert (writer._mine, writer._mine_by_key) == ({}, {})


async def test_messages_for_later_are_the_relays_and_those_due_already_the_writers(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    writer = OutboxWriter(pool, outbox, kafka)
    now = datetime.now(UTC)
    batch = [OutboxMessage("t", b"later", b"k1", not_before=now + timedelta(hours=1)),
             OutboxMessage("t", b"due", b"k2", not_before=now - timedelta(seconds=1))]
    rows = await keep(writer, pool, batch)
    assert [r.value for r in rows] == [b"due"]
    assert await writer.publish(rows)
    await writer.stop()
    await relay_all(pool, outbox, kafka)
    assert kafka.sent == [b"due"]
    assert await outbox_rows(pool) == [(b"later", False)]
    all_later = await keep(writer, pool, [OutboxMessage("t", b"later too", b"k3", not_before=now + timedelta(hours=1))])
    assert all_later == []


async def test_a_row_behind_another_writers_row_leaves_through_the_relay_once_that_one_is_published(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = Kafka()
    first, second = OutboxWriter(pool, outbox, kafka), OutboxWriter(pool, outbox, kafka)  # two processes
    mine = await keep(first, pool, messages("k1", "first"))
    behind = await keep(second, pool, messages("k1", "second"))
    assert behind == []  # the first writer still holds an earlier row of the key
    await relay_all(pool, outbox, kafka)
    assert kafka.sent == []  # the relay waits for it: no overtaking
    assert await first.publish(mine)
    await first.stop()
    await relay_all(pool, outbox, kafka)
    assert kafka.sent == [b"first", b"second"]
    assert await outbox_rows(pool) == []
