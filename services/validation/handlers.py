"""Handles a batch of SubmitRecord commands in one transaction: decide, keep live credit IDs, emit events."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import asyncpg

from shared.boards import apply_overrides
from shared.consumer import Delivery
from shared.events import LearnerRecord, ReportedRecord, SubmitRecord
from shared.inbox import fresh_only
from shared.logging import bind_correlation, get_logger
from shared.outbox import Outbox, OutboxMessage, event_message
from validation import storage
from validation.decide import decide
from validation.rules import Context, credit_key
from validation.storage import LiveKey

log = get_logger(__name__)
Clock = Callable[[], date]


def utc_today() -> date:
    return datetime.now(UTC).date()


def live_key(r: ReportedRecord) -> LiveKey:
    return (r.provider_id, credit_key(r), r.target.code)


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
            boards = apply_overrides(await storage.board_overrides(conn))
            activities = await storage.activities(conn, [(c.record.activity_id or "").strip() for c in todo])
            keys = [live_key(c.record) for c in todo]
            before = await storage.live_records(conn, keys)
            live: dict[LiveKey, LearnerRecord] = dict(before)
            messages: list[OutboxMessage] = []
            today = self._today()
            for command, key in zip(todo, keys, strict=True):
                r = command.record
                activity = activities.get((r.activity_id or "").strip())
                if activity is not None and activity.provider_id != r.provider_id:
                    activity = None  # another provider's activity does not exist for this one
                ctx = Context(activity=activity, board=boards.get(r.target.code), today=today,
                              live=live.get(key))
                decision = decide(command, ctx)
                if decision.release is not None:
                    live.pop(key, None)
                if decision.keep is not None:
                    live[key] = decision.keep
                messages += [event_message(self._topic, e, str(e.record_id)) for e in decision.events]
                with bind_correlation(correlation_id=command.correlation_id):
                    log.info("record validated", record_id=str(r.record_id),
                             outcome=decision.events[0].event_type, target=r.target.code)
            released = [k for k, rec in before.items() if live.get(k) is None or live[k].record_id != rec.record_id]
            kept = [rec for k, rec in live.items() if k not in before or before[k].record_id != rec.record_id]
            await storage.replace_live(conn, released, kept)
            await self._outbox.enqueue(conn, messages)
