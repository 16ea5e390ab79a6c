"""Callers of `?wait=true` wait here for validation's decision on each of their records.

Every intake process reads pars.record-events from its end (no consumer group), so whichever process
took the request sees the outcome.
"""

import asyncio
from uuid import UUID

from aiokafka import ConsumerRecord

from intake.completions.schemas import RecordAnswer
from shared.consumer import event_type_of, event_types
from shared.events import (
    DeleteSubmitted,
    Envelope,
    RecordAccepted,
    RecordDeleted,
    RecordRejectedByPars,
    RecordSubmitted,
)
from shared.lifecycle import KEPT_STATUS_AFTER, RecordStatus, status_after

OUTCOME_EVENTS = (RecordSubmitted, RecordRejectedByPars, DeleteSubmitted, RecordDeleted)  # what `outcome` reads
OUTCOME_TYPES = event_types(*OUTCOME_EVENTS)
# A Delete's outcome is keyed by the record it deletes, which the caller does not know: its own ID is `reported_as`.
DELETE_OUTCOME_TYPES = event_types(DeleteSubmitted, RecordDeleted)
ACCEPTED_BY_PARS = RecordAccepted.model_fields["event_type"].default  # what follows a submission no board processes


def outcome(event: Envelope) -> RecordAnswer | None:
    """The status a caller is answered with: the record's once validation's events apply (lifecycle)."""
    if isinstance(event, RecordRejectedByPars):
        return RecordAnswer(record_id=event.record.record_id, target=event.record.target.code,
                            status=_first_status(event), errors=[e.model_dump() for e in event.errors])
    if isinstance(event, RecordSubmitted):
        status = _first_status(event)
        if not event.needs_board:  # validation accepts it in the same batch: the caller need not wait for that
            status = KEPT_STATUS_AFTER[ACCEPTED_BY_PARS]
        return RecordAnswer(record_id=event.record.record_id, target=event.record.target.code, status=status)
    if isinstance(event, DeleteSubmitted | RecordDeleted) and event.reported_as is not None:
        # A Delete's outcome applies to the kept record it deletes: its events move every kept record alike.
        return RecordAnswer(record_id=event.reported_as, target=event.target.code,
                            status=KEPT_STATUS_AFTER[event.event_type])
    return None


def _first_status(event: RecordSubmitted | RecordRejectedByPars) -> RecordStatus:
    status = status_after(None, event.event_type)
    assert status is not None  # these two start a record's life
    return status


def waited_on(event: Envelope) -> UUID | None:
    """The record ID a caller waits on for this event: a Delete's own, not the record it deletes."""
    return getattr(event, "reported_as", None) or event.record_id


class Waiters:
    def __init__(self) -> None:
        self._futures: dict[UUID, asyncio.Future[RecordAnswer]] = {}
        self._keys: set[bytes] = set()  # the awaited record IDs as pars.record-events keys them

    @property
    def waiting(self) -> bool:
        return bool(self._futures)

    def awaits_key(self, key: bytes) -> bool:
        """Whether a caller waits on the record a pars.record-events message is keyed by (`str(record_id)`): the
        consumer reads no header and decodes nothing of the other messages (a Delete's outcome aside, see app.py)."""
        return key in self._keys

    def expect(self, record_ids: list[UUID]) -> list[asyncio.Future[RecordAnswer]]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in record_ids]
        self._futures.update(zip(record_ids, futures, strict=True))
        self._keys.update(str(record_id).encode() for record_id in record_ids)
        return futures

    def forget(self, record_ids: list[UUID]) -> None:
        for record_id in record_ids:
            self._futures.pop(record_id, None)
            self._keys.discard(str(record_id).encode())

    def may_answer(self, record: ConsumerRecord) -> bool:
        """Whether a pars.record-events message may answer a caller, to be decoded and offered: an Add's outcome
        keyed by an awaited record, or any Delete's outcome (rare). The rest, most of the log, is passed over on
        its key and first header alone."""
        if record.key is None:  # not keyed as the pipeline keys record events: read the header
            return event_type_of(record) in OUTCOME_TYPES
        if record.key in self._keys:
            return event_type_of(record) in OUTCOME_TYPES
        return _first_event_type(record) in DELETE_OUTCOME_TYPES

    def offer(self, event: Envelope) -> None:
        record_id = waited_on(event)
        if record_id is None or record_id not in self._futures:
            return
        answer = outcome(event)
        future = self._futures[record_id]
        if answer is not None and not future.done():
            future.set_result(answer)


def _first_event_type(record: ConsumerRecord) -> bytes | None:
    """The event type, read from the first header where the outbox puts it (shared.outbox.event_message)."""
    headers = record.headers
    if headers and headers[0][0] == "event_type":
        return headers[0][1]
    return event_type_of(record)
