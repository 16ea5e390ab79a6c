"""Live credit IDs on the real PostgreSQL: what a batch changed is written, one statement per kind of change."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import uuid4

import asyncpg
import pytest

from shared.db import create_pool, migrate
from shared.events import LearnerRecord, RecordSubmitted, Target
from shared.lifecycle import RecordStatus
from shared.service_registry import VALIDATION
from shared.settings import Settings
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


async def test_a_batch_writes_what_it_released_kept_and_moved_and_leaves_the_rest(pool: asyncpg.Pool) -> None:
    first = dict(live(f"c{n}") for n in range(5))
    async with pool.acquire() as conn:
        await storage.save_live(conn, {}, first)
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
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_live(conn, before, after)
    assert await stored(pool) == after
    assert storage.live_changes(after, after) == ([], [], [])


async def test_a_kept_record_is_taken_out_of_the_event_that_submitted_it(pool: asyncpg.Pool) -> None:
    rows = dict(live(f"c{n}") for n in range(3))
    submitted = {held.record.record_id: RecordSubmitted(record_id=held.record.record_id, record=held.record,
                                                        correlation_id="c", provider_id="p1").to_bytes()
                 for held in list(rows.values())[:2]}  # the third has no event: it is dumped
    async with pool.acquire() as conn:
        await storage.save_live(conn, {}, rows, submitted)
        stored_as = await conn.fetch("SELECT record FROM live_records")
    assert await stored(pool) == rows
    assert sorted(r["record"]["credit_id"] for r in stored_as) == ["c0", "c1", "c2"]  # the record, not the event


async def test_statuses_from_the_record_events_take_the_last_of_a_batch(pool: asyncpg.Pool) -> None:
    rows = dict(live(f"c{n}") for n in range(3))
    async with pool.acquire() as conn:
        await storage.save_live(conn, {}, rows)
    (_, a), (_, b), (_, c) = rows.items()
    async with pool.acquire() as conn:
        await storage.track_statuses(conn, [(a.record.record_id, "Accepted"), (b.record.record_id, "Rejected"),
                                            (a.record.record_id, "Delete Submitted")], [c.record.record_id])
    assert {k[1]: v.status for k, v in (await stored(pool)).items()} == {"c0": "Delete Submitted", "c1": "Rejected"}
