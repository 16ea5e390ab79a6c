"""The router's reading of what it consumes (record events it routes, board verdicts) and of the records it keeps,
decoded by msgspec.

Decoding each RecordSubmitted into shared.events' pydantic models was 28% of the router's CPU per record routed,
and decoding each verdict and its stored record 38% of it per verdict (cProfile in `python -m bench boards`). The
record is read whole, field for field as LearnerRecord writes it (`RoutedRecord`; services/board_router/tests/
test_events.py ties the two): the router stores it and sends it on to the board, so it checks every field the
boards read, and writes it back (board_router.messages) as the bytes the model wrote. The events and the verdict
are read as far as the router uses them. A message none of these reads (a field missing or of the wrong type)
fails to decode, and the consumer dead-letters it as before.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal
from uuid import UUID

import msgspec

from shared import events
from shared.event_views import Target


class RoutedRecord(msgspec.Struct, kw_only=True):
    """shared.events.LearnerRecord, every field in its order: encoded again, it is the JSON the model writes."""

    record_id: UUID
    submission_id: UUID
    provider_id: str
    channel: Literal["api", "batch", "ws"] = "api"
    credit_id: str
    activity_id: str
    first_name: str
    last_name: str
    dob: str | None = None
    npi: str | None = None
    completion_date: date
    target: Target
    learner_id: str | None = None
    learner_id_matched: bool = False
    credits: Decimal
    credit_types: dict[str, Decimal] = {}
    activity_max_credits: Decimal | None = None
    batch_id: UUID | None = None
    row_number: int | None = None


class ParsError(msgspec.Struct):
    """shared.codes.ParsError, every field in its order."""

    code: str
    message: str


class RecordEvent(msgspec.Struct, tag_field="event_type", kw_only=True):
    event_type: ClassVar[str]
    event_id: UUID


class RecordSubmitted(RecordEvent, tag="RecordSubmitted", kw_only=True):
    event_type: ClassVar[str] = "RecordSubmitted"
    correlation_id: str
    record_id: UUID | None = None
    record: RoutedRecord
    needs_board: bool = True


class DeleteSubmitted(RecordEvent, tag="DeleteSubmitted"):
    event_type: ClassVar[str] = "DeleteSubmitted"
    correlation_id: str
    record_id: UUID | None = None


# The record events the router passes over: the consumer skips them by their event_type header; one without it
# decodes to these and is passed over, as the pydantic union did.
class RecordRejectedByPars(RecordEvent, tag="RecordRejectedByPars"):
    event_type: ClassVar[str] = "RecordRejectedByPars"


class RecordAccepted(RecordEvent, tag="RecordAccepted"):
    event_type: ClassVar[str] = "RecordAccepted"


class RecordRejected(RecordEvent, tag="RecordRejected"):
    event_type: ClassVar[str] = "RecordRejected"


class RecordDeleted(RecordEvent, tag="RecordDeleted"):
    event_type: ClassVar[str] = "RecordDeleted"


class BoardVerdict(msgspec.Struct, tag_field="event_type", tag="BoardVerdict", kw_only=True):
    """shared.events.BoardVerdict, as far as settling a request and appending its record event read it."""

    event_id: UUID
    occurred_at: datetime
    provider_id: str
    record_id: UUID | None = None
    request_id: UUID
    action: Literal["add", "delete"]
    accepted: bool
    errors: list[ParsError] = []


# What the record-events consumer lets through to the decoder, told apart by header (the models name the types).
ROUTED = (events.RecordSubmitted, events.DeleteSubmitted)
_record_events: msgspec.json.Decoder[
    RecordSubmitted | DeleteSubmitted | RecordRejectedByPars | RecordAccepted | RecordRejected | RecordDeleted
] = msgspec.json.Decoder(
    RecordSubmitted | DeleteSubmitted | RecordRejectedByPars | RecordAccepted | RecordRejected | RecordDeleted)
_verdicts = msgspec.json.Decoder(BoardVerdict)
_records = msgspec.json.Decoder(RoutedRecord)


def decode_record_event(value: bytes) -> RecordEvent:
    """What the consumer makes of each message on pars.record-events."""
    return _record_events.decode(value)


def decode_verdict(value: bytes) -> BoardVerdict:
    """What the consumer and the replay make of each message on pars.board-responses."""
    return _verdicts.decode(value)


def read_record(text: str) -> RoutedRecord:
    """A routed record as the routed_records table gives it back (jsonb as text)."""
    return _records.decode(text)
