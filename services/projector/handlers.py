"""Applies a batch of record events in one transaction: timeline first (the dedupe), then current rows and
PARS's rejections."""

import asyncpg

from projector import storage
from projector.folding import fold, rejection
from projector.world import UPSERT_ACTIVITY, activity_row
from shared.consumer import Delivery
from shared.events import ActivityRegistered, Envelope, record_event_adapter
from shared.inbox import keep_fresh

# What the consumer and the rebuild turn each message of pars.record-events into.
decode_record_event = record_event_adapter.validate_json


class Projector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_record_events(self, batch: list[Delivery[Envelope]]) -> None:
        events = [d.message for d in batch if d.message.record_id is not None]
        if not events:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await apply_events(conn, await storage.active_tables(conn), events)


async def apply_events(conn: asyncpg.Connection, tables: storage.Tables, events: list[Envelope]) -> None:
    """Apply events (in log order) to one generation of the tables; events applied before change nothing."""
    fresh = await storage.append_timeline(conn, tables, events)
    todo = keep_fresh(events, fresh)
    rows = await storage.load_rows(conn, tables, (e.record_id for e in todo))
    changed = {}
    for event in todo:
        row = fold(rows.get(event.record_id), event)  # type: ignore[arg-type]
        if row is not None and row is not rows.get(event.record_id):
            rows[row.record_id] = changed[row.record_id] = row
    await storage.save_rows(conn, tables, changed.values())
    await storage.save_rejections(conn, tables, [row for event in todo if (row := rejection(event)) is not None])


class ActivityProjector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_activities(self, batch: list[Delivery[ActivityRegistered]]) -> None:
        # The latest registration of an activity wins; applying one twice changes nothing.
        await self._pool.executemany(UPSERT_ACTIVITY, [activity_row(d.message.activity) for d in batch])
