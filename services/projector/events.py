"""The projector's reading of pars.record-events: only the fields its fold and tables need, decoded by msgspec.

Decoding every event into shared.events' pydantic models (and dumping it again for the timeline) was a quarter
of the projector's CPU. These structs mirror those models' JSON (the tag is `event_type`); what the tables keep
as JSON (errors, credit types) stays the JSON it came as, and the timeline keeps the message as it came. A
message none of them reads (another event type, a field of the wrong type) fails to decode, and the consumer
dead-letters it as before.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

import msgspec

NO_ERRORS = msgspec.Raw(b"[]")


class Target(msgspec.Struct):
    kind: str
    code: str


class RecordEvent(msgspec.Struct, tag_field="event_type", kw_only=True):
    event_type: ClassVar[str]
    event_id: UUID
    occurred_at: datetime
    record_id: UUID | None = None
    # The message as it came, for the timeline: set by `decode_record_event`, never read from the JSON.
    raw: bytes = msgspec.field(default=b"", name="(raw)")


class KeptRecord(msgspec.Struct):
    """shared.events.LearnerRecord, as far as the projection keeps it."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    credit_id: str
    activity_id: str
    first_name: str
    last_name: str
    completion_date: date
    target: Target
    credits: Decimal
    dob: str | None = None
    learner_id: str | None = None
    credit_types: msgspec.Raw = msgspec.Raw(b"{}")


class ReportedRecord(msgspec.Struct):
    """shared.events.ReportedRecord, as far as a PARS rejection keeps it: text as reported."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    target: Target
    credit_id: str | None = None
    activity_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    dob: str | None = None
    npi: str | None = None
    completion_date: str | None = None
    learner_id: str | None = None


class RecordSubmitted(RecordEvent, tag="RecordSubmitted"):
    event_type: ClassVar[str] = "RecordSubmitted"
    record: KeptRecord


class RecordRejectedByPars(RecordEvent, tag="RecordRejectedByPars"):
    event_type: ClassVar[str] = "RecordRejectedByPars"
    record: ReportedRecord
    errors: msgspec.Raw


class RecordAccepted(RecordEvent, tag="RecordAccepted"):
    event_type: ClassVar[str] = "RecordAccepted"


class RecordRejected(RecordEvent, tag="RecordRejected"):
    event_type: ClassVar[str] = "RecordRejected"
    errors: msgspec.Raw


class DeleteSubmitted(RecordEvent, tag="DeleteSubmitted"):
    event_type: ClassVar[str] = "DeleteSubmitted"


class RecordDeleted(RecordEvent, tag="RecordDeleted"):
    event_type: ClassVar[str] = "RecordDeleted"


_decoder: msgspec.json.Decoder[
    RecordSubmitted | RecordRejectedByPars | RecordAccepted | RecordRejected | DeleteSubmitted | RecordDeleted
] = msgspec.json.Decoder(
    RecordSubmitted | RecordRejectedByPars | RecordAccepted | RecordRejected | DeleteSubmitted | RecordDeleted
)


def decode_record_event(value: bytes) -> RecordEvent:
    """What the consumer and the rebuild make of each message on pars.record-events."""
    event = _decoder.decode(value)
    event.raw = value
    return event
