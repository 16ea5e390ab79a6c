"""Rebuilds the projection from the start of pars.record-events into a fresh generation, then swaps it in.

Readers keep the live tables (through the views) the whole time. The swap waits for the projector's
in-flight batch, catches up to the log's end under that lock, and points the views and the projector at
the new tables in one transaction; the projector's next batches land there (already-applied events are
recognised by their ids), so nothing is lost or doubled.

The fresh tables are filled with their primary keys only (the dedupe needs them) and given the live tables'
other indexes once the log is read: one sort per index instead of an index entry per row written, which was
most of PostgreSQL's work in a rebuild. While PostgreSQL applies a batch, the next one is fetched and decoded,
and until the swap two connections apply the log, each its share of the partitions.
"""

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.events import RecordEvent, decode_record_event
from projector.handlers import apply_events
from projector.storage import Tables
from shared.db import create_pool, migrate
from shared.settings import Settings
from shared.topics import RECORD_EVENTS

BATCH = 5000
LANES = 2  # connections applying the log at once, before the swap


@dataclass(frozen=True)
class RebuildReport:
    generation: int
    events: int
    records: int


async def _new_generation(conn: asyncpg.Connection) -> tuple[Tables, Tables]:
    live = Tables(await conn.fetchval("SELECT active FROM projection_state"))
    fresh = Tables(live.generation + 1)
    await conn.execute(f"DROP TABLE IF EXISTS {', '.join(fresh.all)}")  # a failed rebuild's leftovers
    for new, old in zip(fresh.all, live.all, strict=True):  # the other indexes come after the load (_index_like)
        # The timeline's order column gets a sequence of its own (below): the old one goes with the old table.
        defaults = "EXCLUDING DEFAULTS" if new == fresh.events else ""
        await conn.execute(f"CREATE TABLE {new} (LIKE {old} INCLUDING ALL EXCLUDING INDEXES {defaults})")
        key = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'", old)
        await conn.execute(f"ALTER TABLE {new} ADD {key}")
    await conn.execute(f"CREATE SEQUENCE {fresh.events}_seq OWNED BY {fresh.events}.seq")
    await conn.execute(f"ALTER TABLE {fresh.events} ALTER seq SET DEFAULT nextval('{fresh.events}_seq')")
    return live, fresh


async def _index_like(conn: asyncpg.Connection, live: Tables, fresh: Tables) -> None:
    """Give the fresh tables the live tables' indexes (all but the primary keys, which they have), then the
    planner's statistics."""
    for new, old in zip(fresh.all, live.all, strict=True):
        for definition in await conn.fetch(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::regclass AND NOT indisprimary",
                old):
            # 'CREATE [UNIQUE] INDEX name ON schema.table USING …': the same on the new table, a name of its own.
            await conn.execute(re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ", rf"CREATE \1INDEX ON {new} ",
                                      definition[0]))
        await conn.execute(f"ANALYZE {new}")


async def _catch_up(consumer: AIOKafkaConsumer, conns: Sequence[asyncpg.Connection], tables: Tables,
                    ends: dict[TopicPartition, int]) -> int:
    """Apply everything up to `ends`, a batch per transaction (or all in the caller's, if one is open). With
    several connections, each takes its share of the partitions (a record's events share one): one connection's
    batch is folded and encoded while PostgreSQL applies another's."""
    applied = 0
    fetching = asyncio.create_task(_next_batch(consumer, ends))
    try:
        while (fetched := await fetching) is not None:
            fetching = asyncio.create_task(_next_batch(consumer, ends))  # decoded while this batch is applied
            lanes: list[list[RecordEvent]] = [[] for _ in conns]
            for partition, events in fetched.items():
                lanes[partition % len(conns)] += events
            await asyncio.gather(*(_apply(conn, tables, lane) for conn, lane in zip(conns, lanes, strict=True)))
            applied += sum(len(events) for events in fetched.values())
    finally:
        fetching.cancel()
    return applied


async def _apply(conn: asyncpg.Connection, tables: Tables, events: list[RecordEvent]) -> None:
    if events := [e for e in events if e.record_id is not None]:
        async with conn.transaction():
            await apply_events(conn, tables, events)


async def _next_batch(consumer: AIOKafkaConsumer,
                      ends: dict[TopicPartition, int]) -> dict[int, list[RecordEvent]] | None:
    """The next events before `ends`, decoded, by partition; None once every partition is read up to its end."""
    if not [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        return None
    fetched = await consumer.getmany(*ends, timeout_ms=1000, max_records=BATCH)
    return {tp.partition: [decode_record_event(r.value) for r in records if r.offset < ends[tp]]
            for tp, records in fetched.items()}


async def rebuild(settings: Settings) -> RebuildReport:
    schema = settings.schema("projection")
    pool = await create_pool(settings.database_url, schema, max_size=LANES)
    topic = settings.topic(RECORD_EVENTS.name)
    # No group: the consumer is given every partition of the topic, and commits nothing.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id="pars-projection-rebuild",
                                max_partition_fetch_bytes=8 << 20)  # a batch's worth from each partition
    stack = contextlib.AsyncExitStack()
    try:
        await migrate(pool, schema, "projector")
        await consumer.start()
        async with asyncio.timeout(30):
            while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for it
                await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        async with pool.acquire() as conn:
            live, fresh = await _new_generation(conn)
            lanes = [conn, *[await stack.enter_async_context(pool.acquire()) for _ in range(LANES - 1)]]
            applied = await _catch_up(consumer, lanes, fresh, await consumer.end_offsets(partitions))
            await stack.aclose()
            await _index_like(conn, live, fresh)
            async with conn.transaction():
                await conn.execute("SELECT active FROM projection_state FOR UPDATE")  # the projector waits here
                applied += await _catch_up(consumer, [conn], fresh, await consumer.end_offsets(partitions))
                await conn.execute("UPDATE projection_state SET active = $1", fresh.generation)
                await conn.execute(f"CREATE OR REPLACE VIEW records AS SELECT * FROM {fresh.records}")
                await conn.execute(f"CREATE OR REPLACE VIEW record_events AS SELECT * FROM {fresh.events}")
                await conn.execute(f"CREATE OR REPLACE VIEW pars_rejections AS SELECT * FROM {fresh.rejections}")
            await conn.execute(f"DROP TABLE {', '.join(live.all)}")
            records = await conn.fetchval("SELECT count(*) FROM records")
        return RebuildReport(fresh.generation, applied, records)
    finally:
        await stack.aclose()
        await consumer.stop()
        await pool.close()
