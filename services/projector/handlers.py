"""Applies a batch of record events in one transaction: timeline first (the dedupe), then current rows and
PARS's rejections. Storage comes through projector.ports."""

from uuid import UUID

from projector.events import RecordEvent
from projector.folding import RecordChange, fold, rejection
from projector.ports import GenerationWriter, ProjectionStore
from shared.consumer import Delivery
from shared.events import ActivityRegistered
from shared.inbox import keep_fresh


class Projector:
    def __init__(self, store: ProjectionStore) -> None:
        self._store = store

    async def on_record_events(self, batch: list[Delivery[RecordEvent]]) -> None:
        events = [d.message for d in batch if d.message.record_id is not None]
        if not events:
            return
        async with self._store.active() as tables:
            await apply_events(tables, events)


async def apply_events(tables: GenerationWriter, events: list[RecordEvent]) -> None:
    """Apply events (in log order) to one generation of the tables; events applied before change nothing.
    Three statements whatever the batch's size: the timeline (the dedupe), the records, PARS's rejections."""
    fresh = await tables.append_timeline(events)
    todo = keep_fresh(events, fresh)
    changes: dict[UUID, RecordChange] = {}
    for event in todo:
        if (change := fold(changes.get(event.record_id), event)) is not None:  # type: ignore[arg-type]
            changes[event.record_id] = change  # type: ignore[index]
    await tables.save_changes(changes)
    await tables.save_rejections([row for event in todo if (row := rejection(event)) is not None])


class ActivityProjector:
    def __init__(self, store: ProjectionStore) -> None:
        self._store = store

    async def on_activities(self, batch: list[Delivery[ActivityRegistered]]) -> None:
        await self._store.save_activities([d.message.activity for d in batch])
