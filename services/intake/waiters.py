"""Callers of `?wait=true` wait here for validation's decision on each of their records.

Every intake process reads pars.record-events from its end (no consumer group), so whichever process
took the request sees the outcome.
"""

import asyncio
from uuid import UUID

from intake.completions.schemas import RecordAnswer
from shared.events import DeleteSubmitted, Envelope, RecordDeleted, RecordRejectedByPars, RecordSubmitted

OUTCOME_EVENTS = (RecordSubmitted, RecordRejectedByPars, DeleteSubmitted, RecordDeleted)  # what `outcome` reads


def outcome(event: Envelope) -> RecordAnswer | None:
    if isinstance(event, RecordRejectedByPars):
        return RecordAnswer(record_id=event.record.record_id, target=event.record.target.code,
                            status="Rejected by PARS", errors=[e.model_dump() for e in event.errors])
    if isinstance(event, RecordSubmitted):
        return RecordAnswer(record_id=event.record.record_id, target=event.record.target.code,
                            status="Submitted" if event.needs_board else "Accepted")
    if isinstance(event, DeleteSubmitted | RecordDeleted) and event.reported_as is not None:
        return RecordAnswer(record_id=event.reported_as, target=event.target.code,
                            status="Delete Submitted" if isinstance(event, DeleteSubmitted) else "Deleted")
    return None


def waited_on(event: Envelope) -> UUID | None:
    """The record ID a caller waits on for this event: a Delete's own, not the record it deletes."""
    return getattr(event, "reported_as", None) or event.record_id


class Waiters:
    def __init__(self) -> None:
        self._futures: dict[UUID, asyncio.Future[RecordAnswer]] = {}

    @property
    def waiting(self) -> bool:
        return bool(self._futures)

    def expect(self, record_ids: list[UUID]) -> list[asyncio.Future[RecordAnswer]]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in record_ids]
        self._futures.update(zip(record_ids, futures, strict=True))
        return futures

    def forget(self, record_ids: list[UUID]) -> None:
        for record_id in record_ids:
            self._futures.pop(record_id, None)

    def offer(self, event: Envelope) -> None:
        record_id = waited_on(event)
        if record_id is None or record_id not in self._futures:
            return
        answer = outcome(event)
        future = self._futures[record_id]
        if answer is not None and not future.done():
            future.set_result(answer)
