"""The notifier's reading of pars.record-events: the two rejections it keeps, only the fields a digest line shows,
decoded by msgspec.

The consumer passes over every other event by its `event_type` header, undecoded (shared.consumer's `only`). A
board's rejection carries what the digest shows of its record (shared.events.RejectedRecord); until 2026-12-03 it did
not, and the notifier kept every RecordSubmitted's details in case the record was rejected later (a row and an inbox
claim a record, and most of the notifier's CPU). These structs mirror shared.events' models' JSON (the tag is
`event_type`); a message neither of them reads fails to decode, and the consumer dead-letters it as before.
"""

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import msgspec

from shared import events

Errors = list[dict[str, str]]  # ParsError as JSON: {"code", "message"}


class Target(msgspec.Struct):
    code: str


class Event(msgspec.Struct, tag_field="event_type", kw_only=True):
    event_type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    correlation_id: str
    provider_id: str
    record_id: UUID | None = None


class RejectedRecord(msgspec.Struct):
    """shared.events.RejectedRecord."""

    activity_id: str
    first_name: str
    last_name: str
    completion_date: str  # a date as JSON: ISO text, as the rejections table keeps it
    learner_id: str | None = None


class ReportedRecord(msgspec.Struct):
    """shared.events.ReportedRecord, as far as a digest line shows it: text as reported."""

    record_id: UUID
    target: Target
    channel: str = "api"
    activity_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    learner_id: str | None = None
    completion_date: str | None = None


class RecordRejected(Event, tag="RecordRejected"):
    event_type: ClassVar[str] = "RecordRejected"
    target: Target
    errors: Errors
    record: RejectedRecord | None = None  # None from routers before 2026-12-03


class RecordRejectedByPars(Event, tag="RecordRejectedByPars"):
    event_type: ClassVar[str] = "RecordRejectedByPars"
    record: ReportedRecord
    errors: Errors


# What the consumer lets through to the decoder, told apart by header (the pydantic models name the types).
READ = (events.RecordRejected, events.RecordRejectedByPars)
_decoder: msgspec.json.Decoder[RecordRejected | RecordRejectedByPars] = msgspec.json.Decoder(
    RecordRejected | RecordRejectedByPars)


def decode_record_event(value: bytes) -> Event:
    return _decoder.decode(value)
