"""The outbox's statements stay cheap whatever PostgreSQL believes of the outbox. An outbox churns between a few held
rows among many dead ones (each row lives under a second) and a file's backlog, and is seldom analyzed in either
state: planned from its statistics, the relay's look started parallel workers to find nothing (20-80 ms, once a
second in each service while its writer held rows) and sorted every due row's value on disk for each batch of a
backlog; a writer's check for earlier rows of its keys, and the relay's check for any row left, read every dead row
(20-55 ms a batch, growing with each file). Vacuumed while nearly empty, an outbox is taken for one row however large
it grows, every plan then costs the same, and the relay's look for due rows read the whole table for each row it
found (10 s a round)."""

from typing import Any

import pytest

from shared.db import Connection, create_pool, migrate
from shared.outbox import _DUE_ANY, _DUE_IN_BUCKETS, _KEEP_HELD, _NEXT_LOOK, KEY_BUCKETS
from shared.settings import Settings
from tests.support import plan_nodes

pytestmark = pytest.mark.integration

BATCH = 2000


# A busy writer's 40,000 rows, all but the last `{left}` published and deleted already.
_HELD_LEFT = (
    "INSERT INTO outbox (topic, key, value, not_before, held) SELECT 't', convert_to('k' || g, 'UTF8'),"
    " convert_to(repeat('v', 1000), 'UTF8'), now() + interval '10 seconds', true FROM generate_series(1, 40000) g;"
    " DELETE FROM outbox WHERE id <= (SELECT max(id) - {left} FROM outbox)")
# 500 held rows among 40,000 dead ones, never analyzed.
_HELD_AMONG_DEAD = _HELD_LEFT.format(left=500)


async def _plan(conn: Connection, statement: str, *args: Any) -> list[dict[str, Any]]:
    """Every node of a statement as it runs now (EXPLAIN ANALYZE: the relay's statements only read)."""
    explained = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", *args)
    return plan_nodes(explained[0]["Plan"])  # the pool's codec decodes the json column


async def _plans(conn: Connection) -> list[list[dict[str, Any]]]:
    """The relay's statements."""
    return [await _plan(conn, _DUE_ANY, BATCH),
            await _plan(conn, _DUE_IN_BUCKETS, BATCH, list(range(KEY_BUCKETS // 2))),
            await _plan(conn, _NEXT_LOOK)]


async def _keep_plan(conn: Connection) -> list[dict[str, Any]]:
    """Every node of a writer's keep statement for a batch of 300 (run, then rolled back): keys of the rows the
    state holds and new ones."""
    keys = [f"k{40000 - i}".encode() if i % 2 else f"new{i}".encode() for i in range(300)]
    query, _ = _KEEP_HELD.along(None)
    transaction = conn.transaction()
    await transaction.start()
    try:
        return await _plan(conn, query, ["t"] * 300, keys, [b"v" * 1000] * 300, [{}] * 300, [None] * 300, 5.0, [])
    finally:
        await transaction.rollback()


def _buffers(nodes: list[dict[str, Any]]) -> int:
    """The pages a statement touched (its top node counts its children's)."""
    return nodes[0]["Shared Hit Blocks"] + nodes[0]["Shared Read Blocks"]


def _outbox_read_whole(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "outbox"]


def _parallel_or_on_disk(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["Node Type"] for n in nodes
            if n["Node Type"].startswith("Gather") or n.get("Parallel Aware") or n.get("Temp Written Blocks")]


@pytest.mark.parametrize("state", ["held among dead rows", "a file's backlog"])
async def test_the_relays_look_for_due_rows_runs_on_one_backend_in_memory(settings: Settings, state: str) -> None:
    schema = settings.schema("outboxplan")
    pool = await create_pool(settings.database_url, schema, max_size=1)
    try:
        await migrate(pool, schema, "projector")
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM outbox")
            if state == "held among dead rows":
                await conn.execute(_HELD_AMONG_DEAD)
            else:  # four files' submissions, due for the relay
                await conn.execute(
                    "INSERT INTO outbox (topic, key, value, headers, not_before) SELECT 'pars.submissions',"
                    " convert_to('P1:ccid:' || md5(g::text), 'UTF8'), convert_to(repeat('v', 1200), 'UTF8'),"
                    " '{\"event_type\": \"SubmitRecord\"}', now() - interval '1 second'"
                    " FROM generate_series(1, 20000) g")
            plans = await _plans(conn)
    finally:
        await pool.close()
    for nodes in plans:
        assert not _parallel_or_on_disk(nodes), nodes


async def test_a_writers_check_and_the_relays_last_look_skip_the_dead_rows(settings: Settings) -> None:
    """Held rows among 40,000 dead ones, never analyzed (as after a file, before autovacuum's next visit): neither a
    writer's check for earlier rows of its batch's keys nor the relay's check for any row left reads the table."""
    schema = settings.schema("outboxdead")
    pool = await create_pool(settings.database_url, schema, max_size=1)
    try:
        await migrate(pool, schema, "projector")
        async with pool.acquire() as conn:
            await conn.execute(_HELD_AMONG_DEAD)
            keep, look = await _keep_plan(conn), await _plan(conn, _NEXT_LOOK)
    finally:
        await pool.close()
    assert not _outbox_read_whole(keep), keep
    assert not _outbox_read_whole(look), look


async def test_an_outbox_vacuumed_nearly_empty_is_read_by_key_and_place_when_its_next_backlog_comes(
        settings: Settings) -> None:
    """A file's rows published and deleted, one left, then vacuumed (as autovacuum finds an outbox between two files):
    PostgreSQL takes the table for one row from then on. The next file's 20,000 rows, one in five held by its writer,
    the others due for the relay: each statement reads a few pages a row, not the table a row."""
    schema = settings.schema("outboxvacuumed")
    pool = await create_pool(settings.database_url, schema, max_size=1)
    try:
        await migrate(pool, schema, "projector")
        async with pool.acquire() as conn:
            await conn.execute(_HELD_LEFT.format(left=1))
            await conn.execute("VACUUM ANALYZE outbox")
            await conn.execute(
                "INSERT INTO outbox (topic, key, value, not_before, held) SELECT 't', convert_to('k' || g, 'UTF8'),"
                " convert_to(repeat('v', 1000), 'UTF8'), now() + CASE WHEN g % 5 = 0 THEN interval '1 minute'"
                " ELSE interval '-1 second' END, g % 5 = 0 FROM generate_series(40001, 60000) g")
            keep = await _keep_plan(conn)
            due_any, due_in_buckets, look = await _plans(conn)
    finally:
        await pool.close()
    # Bounds with room for the first phase's dead rows, which VACUUM leaves while another session's snapshot may
    # still see them (the suite's other tests): a few pages a row, against the whole table a row before.
    assert _buffers(keep) <= 100 * 300, keep  # before: 720,000 a batch of 1,000, by the primary key
    assert _buffers(due_any) <= 50 * BATCH, due_any  # before: 5,900,000-12,500,000
    assert _buffers(due_in_buckets) <= 50 * BATCH, due_in_buckets
    # The look asks only outbox_due, first entries only (before: the whole of outbox_by_key for min(id)).
    scans = [n for n in look if n.get("Relation Name") == "outbox"]
    assert scans and all(n.get("Index Name") == "outbox_due" for n in scans), look
