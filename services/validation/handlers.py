"""Handles a batch of SubmitRecord commands in one transaction: decide, keep live credit IDs, emit events."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import asyncpg

from shared.consumer import Delivery
from shared.events import LearnerRecord, SubmitRecord
from shared.inbox import fresh_only
from shared.logging import bind_correlation, get_logger
from shared.outbox import Outbox, OutboxMessage, event_message
from validation import lookups, storage
from validation.decide import Decision, decide, unexpected_failure
from validation.lookups import live_key
from validation.rules import Context
from validation.storage import LiveKey
from validation.submissions import UnreadableSubmission

log = get_logger(__name__)
Clock = Callable[[], date]


def utc_today() -> date:
    return datetime.now(UTC).date()


class SubmissionHandler:
    def __init__(self, pool: asyncpg.Pool, outbox: Outbox, record_events_topic: str,
                 today: Clock = utc_today) -> None:
        self._pool = pool
        self._outbox = outbox
        self._topic = record_events_topic
        self._today = today

    async def __call__(self, batch: list[Delivery[SubmitRecord]]) -> None:
        commands = [d.message for d in batch]
        async with self._pool.acquire() as conn, conn.transaction():
            todo = await fresh_only(conn, commands)
            if not todo:
                return
            found = await lookups.fetch(conn, [c.record for c in todo if not isinstance(c, UnreadableSubmission)])
            before = dict(found.live)
            live: dict[LiveKey, LearnerRecord] = dict(before)
            messages: list[OutboxMessage] = []
            today = self._today()
            for command in todo:
                decision = self._decide(command, found, live, today)
                key = live_key(command.record)
                if decision.release is not None:
                    live.pop(key, None)
                if decision.keep is not None:
                    live[key] = decision.keep
                messages += [event_message(self._topic, e, str(e.record_id)) for e in decision.events]
            released = [k for k, rec in before.items() if live.get(k) is None or live[k].record_id != rec.record_id]
            kept = [rec for k, rec in live.items() if k not in before or before[k].record_id != rec.record_id]
            await storage.replace_live(conn, released, kept)
            await self._outbox.enqueue(conn, messages)
        log.info("batch validated", records=len(todo), events=len(messages))

    def _decide(self, command: SubmitRecord, found: lookups.BatchLookups, live: dict[LiveKey, LearnerRecord],
                today: date) -> Decision:
        r = command.record
        with bind_correlation(correlation_id=command.correlation_id, record_id=str(r.record_id)):
            if isinstance(command, UnreadableSubmission):
                log.error("submission unreadable", reason=command.reason)
                return unexpected_failure(command)
            try:
                ctx = Context(activity=found.activity_for(r), board=found.boards.get(r.target.code), today=today,
                              live=live.get(live_key(r)), diplomate=found.diplomate_for(r),
                              match=found.match_for(r))
                decision = decide(command, ctx)
            except Exception:  # one record's surprise must not hold up the batch: it gets PARS's 999
                log.exception("record could not be validated")
                return unexpected_failure(command)
            log.debug("record validated", outcome=decision.events[0].event_type, target=r.target.code)
            return decision
