"""The router's three jobs: route new work to boards, turn verdicts into record events, ask again when late."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TypeGuard
from uuid import UUID

from board_router.events import BoardVerdict, DeleteSubmitted, RecordEvent, RecordSubmitted
from board_router.messages import BoardRequest, board_request, outbox_message, verdict_event
from board_router.ports import RouterStore, SentRequest
from board_router.routing import answer_due, learner_key
from shared.consumer import TRANSIENT, Delivery
from shared.logging import get_logger
from shared.metrics import count_board_verdicts, count_rejection_codes
from shared.outbox import OutboxMessage
from shared.settings import Settings
from shared.topics import RECORD_EVENTS, board_requests

log = get_logger(__name__)


def _asks_a_board(event: RecordEvent) -> TypeGuard[RecordSubmitted | DeleteSubmitted]:
    return isinstance(event, DeleteSubmitted) or (isinstance(event, RecordSubmitted) and event.needs_board)


class Router:
    def __init__(self, store: RouterStore, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._grace = timedelta(seconds=settings.board_answer_grace_seconds)
        self._request_topics: dict[str, str] = {}  # board code -> its request topic, named once

    def _request_message(self, request: BoardRequest) -> OutboxMessage:
        record = request.record
        topic = self._request_topics.get(record.target.code)
        if topic is None:
            topic = self._request_topics[record.target.code] = self._settings.topic(
                board_requests(record.target.code).name)
        return outbox_message(topic, request, learner_key(record))

    async def on_record_events(self, batch: list[Delivery[RecordEvent]]) -> None:
        """Ask each record's board to add it (or withdraw it), once: a request's id is its record's and action's, so
        the requests table is this hop's claim. A request already open or settled (the event delivered again) is not
        sent again, and an event that asks nothing of a board writes nothing."""
        work = [e for d in batch if _asks_a_board(e := d.message)]
        if not work:
            return
        async with self._store.transaction() as tables:
            submitted = [e.record for e in work if isinstance(e, RecordSubmitted)]
            await tables.remember_records(submitted)
            known = {r.record_id: r for r in submitted}
            deletes = [e for e in work if isinstance(e, DeleteSubmitted)]
            known |= await tables.routed_records([e.record_id for e in deletes
                                                  if e.record_id is not None and e.record_id not in known])
            boards, now = await tables.boards(), datetime.now(UTC)
            opened, due = [], {}  # due: each board's answer time, the same for the whole batch
            for event in work:
                action = "add" if isinstance(event, RecordSubmitted) else "delete"
                record = None if event.record_id is None else known.get(event.record_id)
                if record is None:
                    raise LookupError(f"DeleteSubmitted for record {event.record_id} that was never routed")
                board = boards.get(record.target.code)
                if board is None:
                    raise LookupError(f"no board {record.target.code!r} for record {record.record_id}")
                # One request serves both the message and the requests row: each costs a new event id and time.
                request = board_request(record, action, event.correlation_id)
                code = record.target.code
                if code not in due:
                    due[code] = answer_due(board, self._settings.board_latency_scale, now, self._grace)
                opened.append((request, due[code]))
            new = await tables.open_requests(opened)
            messages = []
            for request, _ in opened:
                if request.request_id in new:
                    new.discard(request.request_id)  # an event twice in the batch: its request once
                    messages.append(self._request_message(request))
            rows = await tables.enqueue(messages)
        await self._store.publish(rows)  # right after the commit; the relay sends what this could not

    async def on_verdicts(self, batch: list[Delivery[BoardVerdict]], *, replay: bool = False) -> None:
        """Settle each open request with its verdict and append the record event, once. A replay also appends
        again the events of verdicts that settled their requests before: same ids, so nothing changes where
        they hold, and a consumer that lost them gets them back."""
        verdicts = [d.message for d in batch]
        async with self._store.transaction() as tables:
            firsts: dict[UUID, BoardVerdict] = {}  # each request's first verdict in the batch: the one that settles it
            for verdict in verdicts:
                firsts.setdefault(verdict.request_id, verdict)
            settled = await tables.settle_open([(r, v.event_id) for r, v in firsts.items()])
            before = await tables.settled_requests([r for r in firsts if r not in settled]) if replay else {}
            answered: list[tuple[BoardVerdict, SentRequest]] = []
            for verdict in verdicts:
                if (request := settled.get(verdict.request_id)) is not None:
                    if firsts[verdict.request_id] is verdict:
                        answered.append((verdict, request))
                elif (request := before.get(verdict.request_id)) is not None and request.verdict_id == verdict.event_id:
                    answered.append((verdict, request))
                # else settled already (a duplicate or late verdict changes nothing), or by another verdict
            records = await tables.routed_records(v.record_id for v, _ in answered if v.record_id is not None)
            messages, events = [], []
            topic = self._settings.topic(RECORD_EVENTS.name)
            for verdict, request in answered:
                record = None if verdict.record_id is None else records.get(verdict.record_id)
                if record is None:
                    raise LookupError(f"verdict for record {verdict.record_id} that was never routed")
                event = verdict_event(verdict, record, request.correlation_id)
                messages.append(outbox_message(topic, event, str(event.record_id)))
                events.append(event)
            rows = await tables.enqueue(messages)
        await self._store.publish(rows)
        if not replay:  # a replay's events were counted when first appended
            count_board_verdicts(events)
            count_rejection_codes(events)

    async def ask_again(self, limit: int = 500) -> int:
        """Re-send (same request id) every request whose board is past its answer time."""
        async with self._store.transaction() as tables:
            late = await tables.overdue(limit)
            if not late:
                return 0
            records = await tables.routed_records(r.record_id for r in late)
            boards, now = await tables.boards(), datetime.now(UTC)
            messages, due = [], []
            for row in late:
                record = records[row.record_id]
                messages.append(self._request_message(board_request(record, row.action, row.correlation_id)))
                board = boards[row.board]
                due.append((row.request_id, answer_due(board, self._settings.board_latency_scale, now, self._grace)))
            await tables.postpone(due)
            rows = await tables.enqueue(messages)
        await self._store.publish(rows)
        log.info("asked boards again", requests=len(late))
        return len(late)

    async def ask_again_forever(self, every: float = 5.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.ask_again()
            except TRANSIENT as exc:
                log.warning("asking boards again failed; next round retries", error=repr(exc))
            except Exception:  # keep asking: a bug in one round must not stop every retry after it
                log.exception("asking boards again failed")

