"""The retention of processed_events on real PostgreSQL: ids past the window go, younger ones stay and still dedupe."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from shared.db import create_pool, migrate
from shared.inbox import claim_new, keep_pruned, prune_processed
from shared.service import Running, worker_app
from shared.service_registry import VALIDATION
from shared.settings import Settings

pytestmark = pytest.mark.integration
KEEP = timedelta(days=14)


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    schema = settings.schema(VALIDATION.schema)
    pool = await create_pool(settings.database_url, schema, max_size=2)
    await migrate(pool, schema, VALIDATION.package)
    try:
        yield pool
    finally:
        await pool.close()


async def claimed(pool: asyncpg.Pool, count: int, age: timedelta) -> list[uuid.UUID]:
    """`count` ids claimed as a consumer claims them, `age` ago."""
    ids = [uuid.uuid4() for _ in range(count)]
    async with pool.acquire() as conn, conn.transaction():
        assert await claim_new(conn, ids) == set(ids)
        await conn.execute("UPDATE processed_events SET processed_at = now() - $2::interval"
                           " WHERE event_id = ANY($1::uuid[])", ids, age)
    return ids


async def kept(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> int:
    return await pool.fetchval("SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])", ids)


async def until_pruned(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> None:
    async with asyncio.timeout(10):
        while await kept(pool, ids):  # noqa: ASYNC110 - the chore tells nobody when it has pruned
            await asyncio.sleep(0.05)


async def test_ids_past_the_window_are_pruned_in_batches_and_younger_ones_kept(pool: asyncpg.Pool) -> None:
    old = await claimed(pool, 250, KEEP + timedelta(hours=1))
    young = await claimed(pool, 120, KEEP - timedelta(hours=1))
    fresh = await claimed(pool, 30, timedelta(0))

    assert await prune_processed(pool, KEEP, batch=100, pause=0) == 250  # three statements: 100, 100, 50
    assert await kept(pool, old) == 0
    assert await kept(pool, young) == 120
    assert await kept(pool, fresh) == 30
    assert await prune_processed(pool, KEEP, batch=100, pause=0) == 0


async def test_a_redelivered_message_within_the_window_is_still_recognised(pool: asyncpg.Pool) -> None:
    young = await claimed(pool, 50, KEEP - timedelta(minutes=5))
    old = await claimed(pool, 50, KEEP + timedelta(minutes=5))
    await prune_processed(pool, KEEP)

    async with pool.acquire() as conn, conn.transaction():
        # The young batch comes again (a rewind, a relay's second send): nothing of it is applied twice.
        assert await claim_new(conn, young) == set()
        # An id past the window is gone: its message, were it delivered again, would be applied again. That is
        # why the window outlasts the time Kafka can still deliver it (docs/DESIGN-NOTES.md).
        assert await claim_new(conn, old) == set(old)


async def test_the_prune_finds_the_oldest_ids_by_index(pool: asyncpg.Pool) -> None:
    await claimed(pool, 10, KEEP + timedelta(days=1))
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned: ask for the plan
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT event_id FROM processed_events WHERE processed_at < now() - $1::interval"
            " ORDER BY processed_at LIMIT 10", KEEP))
    assert "processed_events_by_age" in plan


async def test_the_service_chore_prunes_at_start_and_keeps_going(pool: asyncpg.Pool) -> None:
    old = await claimed(pool, 20, KEEP + timedelta(days=1))
    young = await claimed(pool, 20, timedelta(days=1))
    chore = asyncio.create_task(keep_pruned(pool, KEEP, every=0.05))
    try:
        await until_pruned(pool, old)
        later = await claimed(pool, 5, KEEP + timedelta(days=2))  # claimed after the first round, pruned by a next
        await until_pruned(pool, later)
    finally:
        chore.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chore
    assert await kept(pool, young) == 20


async def test_every_worker_service_prunes_its_schema_while_it_runs(settings: Settings) -> None:
    # worker_app starts the chore for each pool its setup opened (and closes the pool when the service stops).
    schema = settings.schema("retention")
    pool = await create_pool(settings.database_url, schema, max_size=2)
    await migrate(pool, schema, VALIDATION.package)
    old = await claimed(pool, 10, timedelta(days=30))
    young = await claimed(pool, 10, timedelta(days=1))

    async def setup(_settings: Settings, _broker: object) -> Running:
        return Running(pools=[pool])

    app = worker_app("retention-test", setup, settings.model_copy(update={"processed_events_keep_days": 14}))
    async with app.router.lifespan_context(app):
        await until_pruned(pool, old)
        assert await kept(pool, young) == 10
