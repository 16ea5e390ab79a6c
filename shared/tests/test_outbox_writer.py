"""OutboxWriter on the real PostgreSQL: a writer publishes its rows right after the commit, the relay sends what it
could not, and no row overtakes an earlier row of its key that is still waiting for the relay."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from shared.db import create_pool, migrate
from shared.outbox import KeptRows, Outbox, OutboxMessage, OutboxRelay, OutboxRow, OutboxWriter
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


async def keep(writer: OutboxWriter, pool: asyncpg.Pool, batch: list[OutboxMessage]) -> KeptRows:
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



@dataclass
class CountingKafka(Kafka):
    """Kafka that counts its sends; it can hold the first until a gate opens, and fail the next `failures` sends."""

    sends: int = 0
    gate: asyncio.Event | None = None
    failures: int = 0
    pool: asyncpg.Pool | None = None  # given: the transactions that kept each send's rows are counted
    transactions: list[int] = field(default_factory=list)
    sending: asyncio.Event = field(default_factory=asyncio.Event)  # set once a send began

    async def __call__(self, rows: Sequence[OutboxRow]) -> None:
        self.sends += 1
        self.sending.set()
        if self.pool is not None:  # the rows are deleted only after the send
            self.transactions.append(await self.pool.fetchval(
                "SELECT count(DISTINCT xmin::text) FROM outbox WHERE id = ANY($1::bigint[])", [r.id for r in rows]))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("no broker answers")
        await super().__call__(rows)


async def test_concurrent_callers_are_kept_by_one_statement_and_sent_by_one_send_in_their_order(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = CountingKafka(pool=pool)
    writer = OutboxWriter(pool, outbox, kafka)
    callers = [writer.keep_and_publish(messages(f"k{n % 3}", f"v{n}a", f"v{n}b")) for n in range(40)]
    assert await asyncio.gather(*callers) == [True] * 40
    await writer.stop()
    assert (kafka.sends, kafka.transactions) == (1, [1])
    assert kafka.sent == [f"v{n}{x}".encode() for n in range(40) for x in "ab"]  # each key's in its callers' order
    assert await outbox_rows(pool) == []
    assert (writer._mine, writer._mine_by_key) == ({}, {})


async def test_a_group_whose_statement_fails_keeps_nothing_and_each_of_its_callers_hears_why(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    kafka = CountingKafka()
    writer = OutboxWriter(pool, outbox, kafka)
    first = asyncio.ensure_future(writer.keep_and_publish(messages("k1", "alone")))
    await asyncio.sleep(0.01)  # its statement is under way: the next two are the next group
    no_topic = [OutboxMessage(None, b"bad", b"k2")]  # type: ignore[arg-type]  # outbox.topic is NOT NULL
    together = await asyncio.gather(writer.keep_and_publish(messages("k2", "good")),
                                    writer.keep_and_publish(no_topic), return_exceptions=True)
    assert await first
    assert [type(r) for r in together] == [asyncpg.NotNullViolationError] * 2  # all or nothing for the group
    assert await writer.keep_and_publish(messages("k2", "after"))  # the next group is kept as ever
    await writer.stop()
    assert kafka.sent == [b"alone", b"after"]
    assert await outbox_rows(pool) == []


async def test_a_group_kept_while_a_failing_send_was_pending_is_the_relays_and_leaves_after_it(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    gate = asyncio.Event()
    kafka = CountingKafka(gate=gate, failures=1)
    writer = OutboxWriter(pool, outbox, kafka)
    first = asyncio.ensure_future(writer.keep_and_publish(messages("k1", "first")))
    await kafka.sending.wait()  # its send waits at the gate
    second = asyncio.ensure_future(writer.keep_and_publish(messages("k1", "second")))
    for _ in range(500):
        if await pool.fetchval("SELECT count(*) FROM outbox") == 2:
            break
        await asyncio.sleep(0.01)
    # Kept as the writer's own (held): the first row of its key was being sent by this writer.
    assert await outbox_rows(pool) == [(b"first", False), (b"second", False)]
    kafka.gate = None
    gate.set()  # the first send fails; sent now, the second row would overtake it on its way through the relay
    assert (await first, await second) == (False, False)
    assert kafka.sends == 1
    assert await outbox_rows(pool) == [(b"first", True), (b"second", True)]  # both the relay's, due at once
    await relay_all(pool, outbox, kafka)
    await writer.stop()
    assert kafka.sent == [b"first", b"second"]


async def test_publish_soon_returns_before_the_acks_and_the_batches_leave_in_their_order(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    gate = asyncio.Event()
    kafka = CountingKafka(gate=gate)
    writer = OutboxWriter(pool, outbox, kafka)
    first = await keep(writer, pool, messages("k1", "a1", "a2"))
    await asyncio.wait_for(writer.publish_soon(first), 1)  # the send waits at the gate; the caller does not
    await kafka.sending.wait()
    second = await keep(writer, pool, messages("k1", "a3") + messages("k2", "b1"))
    assert [r.value for r in second] == [b"a3", b"b1"]  # k1's earlier rows are this writer's, being sent
    await asyncio.wait_for(writer.publish_soon(second), 1)
    assert kafka.sent == []
    gate.set()
    await writer.stop()  # sends what is waiting, then deletes it
    assert kafka.sent == [b"a1", b"a2", b"a3", b"b1"]
    assert kafka.sends == 2  # the first batch, then the second
    assert await outbox_rows(pool) == []
    assert (writer._mine, writer._mine_by_key) == ({}, {})


async def test_rows_kept_while_a_send_was_failing_are_the_relays_and_leave_after_the_failed_rows(
        pool: asyncpg.Pool, outbox: Outbox) -> None:
    gate = asyncio.Event()
    kafka = CountingKafka(gate=gate, failures=1)
    writer = OutboxWriter(pool, outbox, kafka)
    await writer.publish_soon(await keep(writer, pool, messages("k1", "first")))
    await kafka.sending.wait()  # its send waits at the gate, and will fail
    queued = await keep(writer, pool, messages("k1", "queued"))  # queued behind it, as the writer's own
    await writer.publish_soon(queued)
    async with pool.acquire() as conn, conn.transaction():  # kept while the first send is still pending...
        kept_before = await writer.enqueue(conn, messages("k1", "kept before the failure"))
        kafka.gate = None
        gate.set()  # ...which fails now, before this transaction commits
        for _ in range(500):
            if writer._failures:
                break
            await asyncio.sleep(0.01)
    assert [r.value for r in kept_before] == [b"kept before the failure"]  # free when kept
    await writer.publish_soon(kept_before)  # sent now, it would overtake the rows the relay has
    after = await keep(writer, pool, messages("k1", "after") + messages("k2", "other"))
    assert [r.value for r in after] == [b"other"]  # k1's earlier rows are the relay's now
    await writer.publish_soon(after)
    await writer.stop()
    await relay_all(pool, outbox, kafka)
    assert kafka.sent == [b"other", b"first", b"queued", b"kept before the failure", b"after"]
    assert await outbox_rows(pool) == []


async def test_publish_soon_waits_while_too_many_rows_are_unsent(
        pool: asyncpg.Pool, outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.outbox.SOON_UNSENT_ROWS", 3)
    gate = asyncio.Event()
    kafka = CountingKafka(gate=gate)
    writer = OutboxWriter(pool, outbox, kafka)
    await asyncio.wait_for(writer.publish_soon(await keep(writer, pool, messages("k1", "a1", "a2"))), 1)
    await kafka.sending.wait()
    waiting = asyncio.ensure_future(writer.publish_soon(await keep(writer, pool, messages("k1", "a3"))))
    await asyncio.sleep(0.1)
    assert not waiting.done()  # three rows unsent: the caller waits for the first send
    gate.set()
    await asyncio.wait_for(waiting, 1)
    await writer.stop()
    assert kafka.sent == [b"a1", b"a2", b"a3"]
