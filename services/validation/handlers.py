"""Handles a batch of SubmitRecord commands: read, decide, then keep live credit IDs and events at once.
Storage comes through validation.ports."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import UUID

from shared.consumer import Delivery
from shared.events import (
    DeleteSubmitted,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordSubmitted,
    SubmitRecord,
)
from shared.lifecycle import KEPT_STATUS_AFTER, RecordStatus
from shared.logging import get_logger
from shared.metrics import count_rejection_codes
from shared.outbox import OutboxMessage, event_message
from validation import lookups
from validation.decide import Decision, decide, unexpected_failure
from validation.lookups import live_key
from validation.ports import LiveKey, LiveRecord, StatusStore, SubmissionStore
from validation.rules import Context
from validation.status_events import MovesStatus
from validation.submissions import UnreadableSubmission

log = get_logger(__name__)
Clock = Callable[[], date]


def utc_today() -> date:
    return datetime.now(UTC).date()


class SubmissionHandler:
    def __init__(self, store: SubmissionStore, record_events_topic: str, today: Clock = utc_today) -> None:
        self._store = store
        self._topic = record_events_topic
        self._today = today

    async def __call__(self, batch: list[Delivery[SubmitRecord]]) -> None:
        commands = [d.message for d in batch]
        async with self._store.batch() as tx:
            todo, found = await lookups.fetch_fresh(tx, commands)
            if found is None:
                return
            before = dict(found.live)
            live: dict[LiveKey, LiveRecord] = dict(before)
            events = [e for decision in self._decide_all(todo, found, live) for e in decision.events]
            messages: list[OutboxMessage] = [event_message(self._topic, e, str(e.record_id)) for e in events]
            submitted = {e.record.record_id: m.value for e, m in zip(events, messages, strict=True)
                         if isinstance(e, RecordSubmitted)}
            rows = await tx.keep(before, live, submitted, [c.event_id for c in todo], messages)
        await self._store.publish(rows)  # right after the commit; the relay sends what this could not
        count_rejection_codes(events)
        log.info("batch validated", records=len(todo), events=len(messages))

    async def check_only(self, commands: list[SubmitRecord]) -> list[Decision]:
        """The learner validation tool (dry run): the decisions these records would get, nothing kept."""
        async with self._store.reading() as reader:
            found = await lookups.fetch(reader, [c.record for c in commands])
        return self._decide_all(commands, found, dict(found.live))

    def _decide_all(self, commands: list[SubmitRecord], found: lookups.BatchLookups,
                    live: dict[LiveKey, LiveRecord]) -> list[Decision]:
        """Decide in order, each record seeing what the ones before it changed (`live` is updated in place)."""
        today, decisions = self._today(), []
        debug = log.is_enabled_for(logging.DEBUG)  # the per-record line's fields cost more than the line, when off
        for command in commands:
            key = live_key(command.record)
            decision = self._decide(command, found, live.get(key), today, debug)
            if decision.release is not None:
                live.pop(key, None)
            if decision.keep is not None:
                live[key] = LiveRecord(decision.keep, decision.keep_status)
            if decision.mark is not None and key in live:
                live[key] = replace(live[key], status=decision.mark)
            decisions.append(decision)
        return decisions

    def _decide(self, command: SubmitRecord, found: lookups.BatchLookups, held: LiveRecord | None, today: date,
                debug: bool) -> Decision:
        r = command.record
        if isinstance(command, UnreadableSubmission):
            log.error("submission unreadable", reason=command.reason, **_log_ids(command))
            return unexpected_failure(command)
        try:
            activity, board = found.activity_for(r), found.boards.get(r.target.code)
            ctx = Context(activity=activity, board=board, today=today, live=held.record if held else None,
                          live_status=held.status if held else None, diplomate=found.diplomate_for(r),
                          match=found.match_for(r), offered=found.offered_for(activity, board),
                          credit_type_names=found.credit_type_names_for(board))
            decision = decide(command, ctx)
        except Exception:  # one record's surprise must not hold up the batch: it gets PARS's 999
            log.exception("record could not be validated", **_log_ids(command))
            return unexpected_failure(command)
        if debug:
            log.debug("record validated", outcome=decision.events[0].event_type, target=r.target.code,
                      **_log_ids(command))
        return decision


def _log_ids(command: SubmitRecord) -> dict[str, str]:
    """A record's ids, for its few log lines by hand: binding them to the context for every record cost a third of
    deciding it."""
    return {"correlation_id": command.correlation_id, "record_id": str(command.record.record_id)}


class StatusTracker:
    """Follows pars.record-events so validation knows each live record's status (deletes depend on it)."""

    # What it reads of pars.record-events: the events that move a kept record (lifecycle.KEPT_STATUS_AFTER).
    EVENTS = (RecordAccepted, RecordRejected, DeleteSubmitted, RecordDeleted)

    def __init__(self, store: StatusStore) -> None:
        self._store = store

    async def __call__(self, batch: Sequence[Delivery[MovesStatus]]) -> None:
        statuses: list[tuple[UUID, RecordStatus]] = []
        gone: list[UUID] = []
        for d in batch:
            record_id, status = d.message.record_id, KEPT_STATUS_AFTER.get(d.message.event_type)
            if record_id is None or status is None:
                continue
            if status is RecordStatus.DELETED:  # its credit ID is free again
                gone.append(record_id)
            else:  # moves every kept record alike: no need to read the live record's status first
                statuses.append((record_id, status))
        if statuses or gone:
            await self._store.track_statuses(statuses, gone)
