"""Rebuilds the projection from the start of pars.record-events into a fresh generation, then swaps it in.

Readers keep the live tables (through the views) the whole time. The swap waits for the projector's
in-flight batch, catches up to the log's end under that lock, and points the views and the projector at
the new tables in one transaction; the projector's next batches land there (already-applied events are
recognised by their ids), so nothing is lost or doubled.

Up to the swap the rebuild is the fresh tables' only writer, so it knows what they hold without asking
(projector.bulk_load): the log is read into bare tables (no key, no index) with binary COPY, the timeline as
it is read, each record's row once its events have folded in memory for a while; the keys and the live
tables' other indexes come after, one sort each on two connections at once. Only then does the catch-up
under the lock apply the log's last events the projector's way (projector.handlers.apply_events).
"""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.bulk_load import BulkLoad, bulk_connection
from projector.events import RecordEvent, decode_record_event
from projector.handlers import apply_events
from projector.storage import SqlGeneration, Tables
from shared.collector import collector_held
from shared.db import Connection, create_pool, migrate
from shared.kafka import kafka_client_args
from shared.service_registry import PROJECTOR
from shared.settings import Settings
from shared.topics import RECORD_EVENTS

BATCH = 10_000  # events fetched at once (while the last ones are written)


@dataclass(frozen=True)
class RebuildReport:
    generation: int
    events: int
    records: int


async def _new_generation(conn: Connection) -> tuple[Tables, Tables]:
    """Bare tables for the next generation: the live ones' columns, no key, no index (_index_like adds them)."""
    live = Tables(await conn.fetchval("SELECT active FROM projection_state"))
    fresh = Tables(live.generation + 1)
    await conn.execute(f"DROP TABLE IF EXISTS {', '.join(fresh.all)}")  # a failed rebuild's leftovers
    for new, old in zip(fresh.all, live.all, strict=True):
        # The timeline's order column gets a sequence of its own (below): the old one goes with the old table.
        defaults = "EXCLUDING DEFAULTS" if new == fresh.events else ""
        await conn.execute(f"CREATE TABLE {new} (LIKE {old} INCLUDING ALL EXCLUDING INDEXES {defaults})")
    await conn.execute(f"CREATE SEQUENCE {fresh.events}_seq OWNED BY {fresh.events}.seq")
    await conn.execute(f"ALTER TABLE {fresh.events} ALTER seq SET DEFAULT nextval('{fresh.events}_seq')")
    return live, fresh


async def _index_like(conns: Sequence[Connection], live: Tables, fresh: Tables) -> None:
    """Give the fresh tables the live tables' primary keys and other indexes, a statement per connection at
    once (each index is one sort, on a core of its own), then the planner's statistics."""
    keys, indexes = [], []
    for new, old in zip(fresh.all, live.all, strict=True):
        key = await conns[0].fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'", old)
        keys.append(f"ALTER TABLE {new} ADD {key}")
        for definition in await conns[0].fetch(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = $1::regclass AND NOT indisprimary",
                old):
            # 'CREATE [UNIQUE] INDEX name ON schema.table USING …': the same on the new table, a name of its own.
            indexes.append(re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON \S+ ", rf"CREATE \1INDEX ON {new} ", definition[0]))
    # Keys first: a table's key locks it whole, so its other indexes wait for it anyway.
    todo = iter([*keys, *indexes, *(f"ANALYZE {new}" for new in fresh.all)])

    async def work(conn: Connection) -> None:
        for statement in todo:
            await conn.execute(statement)

    await asyncio.gather(*(work(conn) for conn in conns))


async def _batches(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> AsyncIterator[list[RecordEvent]]:
    """The events before `ends`, decoded, a batch at a time (a partition's in log order); the next batch is
    fetched and decoded while the caller handles one."""
    fetching = asyncio.create_task(_next_batch(consumer, ends))
    try:
        while (fetched := await fetching) is not None:
            fetching = asyncio.create_task(_next_batch(consumer, ends))
            yield fetched
    finally:
        fetching.cancel()


async def _next_batch(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[RecordEvent] | None:
    """The next events before `ends`, decoded; None once every partition is read up to its end."""
    if not [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
        return None
    fetched = await consumer.getmany(*ends, timeout_ms=1000, max_records=BATCH)
    return [decode_record_event(r.value) for tp, records in fetched.items() for r in records if r.offset < ends[tp]]


async def _catch_up(consumer: AIOKafkaConsumer, conn: Connection, tables: Tables,
                    ends: dict[TopicPartition, int]) -> int:
    """Apply everything up to `ends` the projector's way (in the caller's transaction)."""
    applied = 0
    async for fetched in _batches(consumer, ends):
        if events := [e for e in fetched if e.record_id is not None]:
            await apply_events(SqlGeneration(conn, tables), events)
        applied += len(fetched)
    return applied


async def _load(consumer: AIOKafkaConsumer, settings: Settings, schema: str, live: Tables, fresh: Tables,
                ends: dict[TopicPartition, int]) -> int:
    """Read the log up to `ends` into the bare fresh tables, then key and index them."""
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(bulk_connection(settings.database_url, schema)) for _ in range(2)]
        load = BulkLoad(fresh, timeline=conns[0], rows=conns[1])
        # The load's objects live until it ends: the collector's passes over them (a full one each time the
        # objects alive grow by a quarter) were most of the decoding's CPU. What it leaves is collected after.
        with collector_held():
            async for events in _batches(consumer, ends):
                await load.add(events)
            await load.finish()
        await _index_like(conns, live, fresh)
        await load.apply_late(conns[0])
        return load.read


async def rebuild(settings: Settings) -> RebuildReport:
    schema = settings.schema(PROJECTOR.schema)
    pool = await create_pool(settings.database_url, schema, max_size=1)
    topic = settings.topic(RECORD_EVENTS.name)
    # No group: the consumer is given every partition of the topic, and commits nothing.
    consumer = AIOKafkaConsumer(topic, **kafka_client_args(settings), enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id="pars-projection-rebuild",
                                # ≈ 2,800 events from each partition a fetch: the partitions are read abreast, so a
                                # record's verdict comes while the record still folds (bulk_load.WINDOW)
                                max_partition_fetch_bytes=2 << 20)
    try:
        await migrate(pool, schema, PROJECTOR.package)
        await consumer.start()
        async with asyncio.timeout(30):
            while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for it
                await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        async with pool.acquire() as conn:
            live, fresh = await _new_generation(conn)
            applied = await _load(consumer, settings, schema, live, fresh, await consumer.end_offsets(partitions))
            async with conn.transaction():
                await conn.execute("SELECT active FROM projection_state FOR UPDATE")  # the projector waits here
                applied += await _catch_up(consumer, conn, fresh, await consumer.end_offsets(partitions))
                await conn.execute("UPDATE projection_state SET active = $1", fresh.generation)
                await conn.execute(f"CREATE OR REPLACE VIEW records AS SELECT * FROM {fresh.records}")
                await conn.execute(f"CREATE OR REPLACE VIEW record_events AS SELECT * FROM {fresh.events}")
                await conn.execute(f"CREATE OR REPLACE VIEW pars_rejections AS SELECT * FROM {fresh.rejections}")
            await conn.execute(f"DROP TABLE {', '.join(live.all)}")
            records = await conn.fetchval("SELECT count(*) FROM records")
        return RebuildReport(fresh.generation, applied, records)
    finally:
        await consumer.stop()
        await pool.close()
