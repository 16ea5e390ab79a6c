"""Applies a batch of record events in one transaction: timeline first (the dedupe), then current rows and
PARS's rejections."""

from uuid import UUID

import asyncpg

from projector import storage
from projector.events import RecordEvent
from projector.folding import RecordChange, fold, rejection
from projector.world import UPSERT_ACTIVITY, activity_row
from shared.consumer import Delivery
from shared.events import ActivityRegistered
from shared.inbox import keep_fresh


class Projector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_record_events(self, batch: list[Delivery[RecordEvent]]) -> None:
        events = [d.message for d in batch if d.message.record_id is not None]
        if not events:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await apply_events(conn, await storage.active_tables(conn), events)


async def apply_events(conn: asyncpg.Connection, tables: storage.Tables, events: list[RecordEvent]) -> None:
    """Apply events (in log order) to one generation of the tables; events applied before change nothing.
    Three statements whatever the batch's size: the timeline (the dedupe), the records, PARS's rejections."""
    fresh = await storage.append_timeline(conn, tables, events)
    todo = keep_fresh(events, fresh)
    changes: dict[UUID, RecordChange] = {}
    for event in todo:
        if (change := fold(changes.get(event.record_id), event)) is not None:  # type: ignore[arg-type]
            changes[event.record_id] = change  # type: ignore[index]
    await storage.save_changes(conn, tables, changes)
    await storage.save_rejections(conn, tables, [row for event in todo if (row := rejection(event)) is not None])


class ActivityProjector:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def on_activities(self, batch: list[Delivery[ActivityRegistered]]) -> None:
        # The latest registration of an activity wins; applying one twice changes nothing.
        await self._pool.executemany(UPSERT_ACTIVITY, [activity_row(d.message.activity) for d in batch])
