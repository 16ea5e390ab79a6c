"""Live credit IDs on the real PostgreSQL: a batch keeps what it changed with its claims and events, or nothing."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import asyncpg
import pytest

from shared.db import create_pool, migrate
from shared.events import LearnerRecord, RecordSubmitted, Target
from shared.lifecycle import RecordStatus
from shared.outbox import Outbox, OutboxMessage, OutboxRow, OutboxWriter
from shared.service_registry import VALIDATION
from shared.settings import Settings
from tests.support import rows_read
from validation import storage
from validation.storage import LiveKey, LiveRecord

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    schema = settings.schema(VALIDATION.schema)
    pool = await create_pool(settings.database_url, schema)
    await migrate(pool, schema, VALIDATION.package)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def writer(pool: asyncpg.Pool, settings: Settings) -> OutboxWriter:
    async def publish(rows: Sequence[OutboxRow]) -> None:
        raise AssertionError("keeping a batch publishes nothing")

    return OutboxWriter(pool, Outbox(settings.schema(VALIDATION.schema)), publish)


async def keep(pool: asyncpg.Pool, writer: OutboxWriter, before: dict[LiveKey, LiveRecord],
               after: dict[LiveKey, LiveRecord], submitted: dict[UUID, bytes] | None = None,
               handled: Sequence[UUID] = (), messages: Sequence[OutboxMessage] = ()) -> None:
    async with pool.acquire() as conn:
        await storage.keep_batch(conn, writer, before, after, submitted or {}, handled, messages)


def live(credit_id: str, status: RecordStatus = RecordStatus.SUBMITTED) -> tuple[LiveKey, LiveRecord]:
    record = LearnerRecord(
        record_id=uuid4(), submission_id=uuid4(), provider_id="p1", credit_id=credit_id, activity_id="a1",
        first_name="Harper", last_name="Benton", dob="11/11", completion_date=date(2021, 11, 2),
        target=Target(kind="moc", code="ABIM"), learner_id="1", credits=Decimal("6.25"),
        credit_types={"Medical Knowledge": Decimal("6.25")})
    return ("p1", credit_id, "ABIM"), LiveRecord(record, status)


async def stored(pool: asyncpg.Pool) -> dict[LiveKey, LiveRecord]:
    async with pool.acquire() as conn:
        return await storage.live_records(conn, [("p1", f"c{n}", "ABIM") for n in range(10)])


async def test_a_batch_writes_what_it_released_kept_and_moved_and_leaves_the_rest(pool: asyncpg.Pool,
                                                                                  writer: OutboxWriter) -> None:
    first = dict(live(f"c{n}") for n in range(5))
    await keep(pool, writer, {}, first)
    assert await stored(pool) == first

    before = await stored(pool)
    after = dict(before)
    k0, k1, k2, k3 = ("p1", "c0", "ABIM"), ("p1", "c1", "ABIM"), ("p1", "c2", "ABIM"), ("p1", "c3", "ABIM")
    del after[k0]  # deleted at once
    after[k1] = live("c1")[1]  # released and kept again by another record in the same batch
    after[k2] = replace(after[k2], status=RecordStatus.DELETE_SUBMITTED)  # moved
    after[k3] = replace(after[k3])  # a new object, nothing changed
    new_key, new = live("c7", RecordStatus.ACCEPTED)
    after[new_key] = new
    await keep(pool, writer, before, after)
    assert await stored(pool) == after
    assert storage.live_changes(after, after) == ([], [], [])


async def test_a_kept_record_is_taken_out_of_the_event_that_submitted_it(pool: asyncpg.Pool,
                                                                         writer: OutboxWriter) -> None:
    rows = dict(live(f"c{n}") for n in range(3))
    submitted = {held.record.record_id: RecordSubmitted(record_id=held.record.record_id, record=held.record,
                                                        correlation_id="c", provider_id="p1").to_bytes()
                 for held in list(rows.values())[:2]}  # the third has no event: it is dumped
    await keep(pool, writer, {}, rows, submitted)
    async with pool.acquire() as conn:
        stored_as = await conn.fetch("SELECT record FROM live_records")
    assert await stored(pool) == rows
    assert sorted(r["record"]["credit_id"] for r in stored_as) == ["c0", "c1", "c2"]  # the record, not the event


async def test_statuses_from_the_record_events_take_the_last_of_a_batch(pool: asyncpg.Pool,
                                                                        writer: OutboxWriter) -> None:
    rows = dict(live(f"c{n}") for n in range(3))
    await keep(pool, writer, {}, rows)
    (_, a), (_, b), (_, c) = rows.items()
    async with pool.acquire() as conn:
        await storage.track_statuses(conn, [(a.record.record_id, "Accepted"), (b.record.record_id, "Rejected"),
                                            (a.record.record_id, "Delete Submitted")], [c.record.record_id])
    assert {k[1]: v.status for k, v in (await stored(pool)).items()} == {"c0": "Delete Submitted", "c1": "Rejected"}


async def outbox_and_claims(pool: asyncpg.Pool) -> tuple[list[bytes], set[UUID]]:
    async with pool.acquire() as conn:
        values = [r["value"] for r in await conn.fetch("SELECT value FROM outbox ORDER BY id")]
        return values, {r["event_id"] for r in await conn.fetch("SELECT event_id FROM processed_events")}


async def test_a_batch_keeps_its_claims_records_and_events_in_one_statement(pool: asyncpg.Pool,
                                                                            writer: OutboxWriter) -> None:
    rows = dict(live(f"c{n}") for n in range(2))
    commands = [uuid4(), uuid4()]
    events = [OutboxMessage("t", f"event {n}".encode(), b"k") for n in range(3)]
    async with pool.acquire() as conn:
        kept = await storage.keep_batch(conn, writer, {}, rows, {}, commands, events)
        assert not conn.is_in_transaction()
    assert [row.value for row in kept] == [b"event 0", b"event 1", b"event 2"]  # its writer's to publish now
    assert await stored(pool) == rows
    assert await outbox_and_claims(pool) == ([b"event 0", b"event 1", b"event 2"], set(commands))


async def test_a_batch_that_cannot_keep_a_credit_id_keeps_nothing(pool: asyncpg.Pool, writer: OutboxWriter) -> None:
    key, taken = live("c1")
    await keep(pool, writer, {}, {key: taken})  # another instance kept c1 after this batch read it
    _, mine = live("c1")
    with pytest.raises(asyncpg.UniqueViolationError):
        await keep(pool, writer, {}, {key: mine}, handled=[uuid4()], messages=[OutboxMessage("t", b"mine", b"k")])
    assert await stored(pool) == {key: taken}
    assert await outbox_and_claims(pool) == ([], set())  # neither its claim nor its event: it is retried whole


async def test_a_command_handled_meanwhile_fails_the_batch_and_keeps_nothing(pool: asyncpg.Pool,
                                                                             writer: OutboxWriter) -> None:
    command = uuid4()
    await keep(pool, writer, {}, {}, handled=[command])  # another instance handled it after this batch read
    key, record = live("c2")
    with pytest.raises(asyncpg.UniqueViolationError):
        await keep(pool, writer, {}, {key: record}, handled=[command], messages=[OutboxMessage("t", b"again", b"k")])
    assert await stored(pool) == {}
    assert await outbox_and_claims(pool) == ([], {command})


async def test_a_batch_that_released_a_credit_id_keeps_it_again_with_its_events(pool: asyncpg.Pool,
                                                                               writer: OutboxWriter) -> None:
    key, old = live("c3")
    await keep(pool, writer, {}, {key: old})
    _, new = live("c3")
    command = uuid4()
    async with pool.acquire() as conn:
        await storage.keep_batch(conn, writer, {key: old}, {key: new}, {}, [command], [OutboxMessage("t", b"e", b"k")])
        assert not conn.is_in_transaction()
    assert await stored(pool) == {key: new}
    assert await outbox_and_claims(pool) == ([b"e"], {command})


async def test_a_batch_of_statuses_finds_its_records_by_id_before_the_table_is_ever_analyzed(
        pool: asyncpg.Pool) -> None:
    """A young table autovacuum has not analyzed yet: PostgreSQL knows record IDs are unique from the index alone.
    Before, it guessed 200 distinct IDs and read the whole index for a batch of 400 (a merge join)."""
    await pool.execute(
        "INSERT INTO live_records (provider_id, credit_id, target_code, record_id, record, status)"
        " SELECT 'p1', 'c' || g, 'ABIM', gen_random_uuid(), '{}', 'Submitted' FROM generate_series(1, 60000) g")
    ids = [r[0] for r in await pool.fetch("SELECT record_id FROM live_records ORDER BY credit_id LIMIT 400")]
    async with pool.acquire() as conn, conn.transaction():  # the transaction's own counts
        before = await rows_read(conn, "live_records")
        await storage.set_statuses(conn, [(i, "Accepted") for i in ids])
        assert await rows_read(conn, "live_records") - before <= 2 * len(ids)
    assert await pool.fetchval("SELECT count(*) FROM live_records WHERE status = 'Accepted'") == len(ids)
