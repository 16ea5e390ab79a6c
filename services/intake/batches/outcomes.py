"""Follows pars.record-events and notes, for each batch record, what validation decided.

A batch is complete once every record it reported has an outcome: added (Submitted, or a Delete taken) or
rejected (Rejected by PARS, with its codes). The consumer group commits only after the outcomes are written,
so a restart resumes where it stopped and a redelivery changes nothing.

Most outcomes on the log are not a batch's (API completions, web services). The consumer passes over other events
by their `event_type` header (shared.consumer's `only`); of the outcomes, a record's that names no batch is passed
over on its bytes, and the others are decoded by msgspec into the few fields the tally notes, not into
shared.events' pydantic models (a LearnerRecord with its Decimals was most of the tally's CPU per event).
"""

from typing import ClassVar
from uuid import UUID

import asyncpg
import msgspec

from intake.batches import storage
from intake.batches.storage import Outcome
from intake.waiters import OUTCOME_EVENTS
from shared.consumer import Delivery

READ = OUTCOME_EVENTS  # what the consumer lets through to `batch_outcome`, by header
# Outcome events carry one record (Submitted, Rejected by PARS) or none (the Deletes), and only a record has a
# `batch_id`, so this text, which cannot occur inside a JSON string, is that record's. The services write events
# as compact JSON (pydantic's model_dump_json); JSON spaced otherwise is decoded and judged as any other.
NO_BATCH = b'"batch_id":null'


class _Record(msgspec.Struct):
    """shared.events.LearnerRecord and ReportedRecord, as far as a batch's tally reads them."""

    record_id: UUID
    batch_id: UUID | None = None


class _Event(msgspec.Struct, tag_field="event_type", kw_only=True):
    event_type: ClassVar[str]


class _RecordSubmitted(_Event, tag="RecordSubmitted"):
    event_type: ClassVar[str] = "RecordSubmitted"
    record: _Record


class _RecordRejectedByPars(_Event, tag="RecordRejectedByPars"):
    event_type: ClassVar[str] = "RecordRejectedByPars"
    record: _Record
    errors: list[dict[str, str]]  # ParsError as the model dumped it: {"code", "message"}


class _DeleteSubmitted(_Event, tag="DeleteSubmitted"):
    event_type: ClassVar[str] = "DeleteSubmitted"
    reported_as: UUID | None = None


class _RecordDeleted(_Event, tag="RecordDeleted"):
    event_type: ClassVar[str] = "RecordDeleted"
    reported_as: UUID | None = None


_decoder = msgspec.json.Decoder(_RecordSubmitted | _RecordRejectedByPars | _DeleteSubmitted | _RecordDeleted)


def batch_outcome(value: bytes) -> Outcome | None:
    """The batch outcome an outcome event announces (what `?wait=true` callers are told); None if none. A message
    none of the outcome events reads fails to decode, and the consumer dead-letters it as before."""
    if NO_BATCH in value:
        return None  # an API or web-service record's: not a batch's
    event = _decoder.decode(value)
    if isinstance(event, _RecordSubmitted | _RecordRejectedByPars):
        if event.record.batch_id is None:
            return None
        if isinstance(event, _RecordRejectedByPars):
            return Outcome(event.record.record_id, "rejected", event.errors)
        return Outcome(event.record.record_id, "added", [])
    # A Delete's outcome is checked against the table instead: it counts only for a record a batch reported.
    return None if event.reported_as is None else Outcome(event.reported_as, "added", [])


class BatchOutcomes:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def __call__(self, batch: list[Delivery[Outcome | None]]) -> None:
        outcomes = [d.message for d in batch if d.message is not None]
        if outcomes:
            async with self._pool.acquire() as conn, conn.transaction():
                await storage.apply_outcomes(conn, outcomes)
