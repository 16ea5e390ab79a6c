"""Keeps every rejection a provider should hear about, with what its digest line shows, and the titles of the
activities a digest names."""

from notifier.events import Event, RecordRejected, RecordRejectedByPars
from notifier.ports import ActivityTitles, RejectionStore
from notifier.rejections import digested_by_pars, kept_rejections
from shared.consumer import Delivery
from shared.events import ActivityRegistered
from shared.logging import bind_correlation, get_logger

log = get_logger(__name__)


class RejectionCollector:
    EVENTS = (RecordRejected, RecordRejectedByPars)  # what it reads of pars.record-events

    def __init__(self, store: RejectionStore) -> None:
        self._store = store

    async def on_record_events(self, batch: list[Delivery[Event]]) -> None:
        events = [d.message for d in batch if isinstance(d.message, self.EVENTS)]
        if not events:
            return
        async with self._store.transaction() as tables:
            # A board's rejection from a router before 2026-12-03 names its record only: its details are in what the
            # notifier kept of every RecordSubmitted until then.
            submitted = await tables.submitted_details(
                {e.record_id for e in events if isinstance(e, RecordRejected) and e.record is None
                 and e.record_id is not None})
            opted_in = await tables.opted_in({e.provider_id for e in digested_by_pars(events)})
            new = await tables.keep(kept_rejections(events, submitted, opted_in))
        correlation = {e.event_id: e.correlation_id for e in events}
        for k in new:
            with bind_correlation(correlation_id=correlation[k.event_id], record_id=str(k.record_id)):
                log.info("rejection kept for digest", provider_id=k.provider_id, board=k.board,
                         codes=[e["code"] for e in k.errors])


class ActivityListener:
    """Hears of activities registered (or updated) through the API, whose titles head their digest groups."""

    def __init__(self, titles: ActivityTitles) -> None:
        self._titles = titles

    async def on_activities(self, batch: list[Delivery[ActivityRegistered]]) -> None:
        await self._titles.save_titles([(d.message.activity.id, d.message.activity.title) for d in batch])
