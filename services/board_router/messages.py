"""What the router writes (board requests, the record events verdicts become), encoded by msgspec.

Each struct holds its model's fields in the model's order (shared.events.ProcessBoardRequest, RecordAccepted,
RecordRejected, RecordDeleted), so its JSON is the bytes the model would write: services/board_router/tests/
test_messages.py checks them against board_router.routing's `board_request` and `verdict_event`, which build the
models. Building a ProcessBoardRequest and dumping it with its record was a third of the router's CPU per record
routed (cProfile in `python -m bench boards`).
"""

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import msgspec

from board_router.events import BoardVerdict, ParsError, RoutedRecord, Target
from board_router.routing import request_id, verdict_event_id, verdict_event_type
from shared.events import SCHEMA_VERSION
from shared.ids import new_id
from shared.outbox import OutboxMessage


class Message(msgspec.Struct, kw_only=True):
    """shared.events.Envelope."""

    event_id: UUID
    event_type: str
    occurred_at: datetime
    schema_version: int = SCHEMA_VERSION
    correlation_id: str
    provider_id: str
    record_id: UUID | None
    submission_id: UUID | None


class BoardRequest(Message, kw_only=True):
    """shared.events.ProcessBoardRequest."""

    request_id: UUID
    action: str
    record: RoutedRecord


class RecordAccepted(Message, kw_only=True):
    """shared.events.RecordAccepted (RecordDeleted adds `reported_as` to it)."""

    target: Target
    response_id: UUID


class RejectedRecord(msgspec.Struct):
    """shared.events.RejectedRecord."""

    activity_id: str
    first_name: str
    last_name: str
    completion_date: date
    learner_id: str | None


class RecordRejected(Message, kw_only=True):
    """shared.events.RecordRejected."""

    target: Target
    response_id: UUID
    errors: list[ParsError]
    record: RejectedRecord


class RecordDeleted(RecordAccepted, kw_only=True):
    """shared.events.RecordDeleted."""

    reported_as: UUID | None = None


RecordEvent = RecordAccepted | RecordRejected | RecordDeleted
_encoder = msgspec.json.Encoder()


def board_request(record: RoutedRecord, action: str, correlation_id: str) -> BoardRequest:
    """As board_router.routing.board_request: a new event id and time, the request id of the record and action."""
    return BoardRequest(
        event_id=new_id(), event_type="ProcessBoardRequest", occurred_at=datetime.now(UTC),
        request_id=request_id(record.record_id, action), action=action, record=record,
        correlation_id=correlation_id, provider_id=record.provider_id, record_id=record.record_id,
        submission_id=record.submission_id,
    )


def verdict_event(verdict: BoardVerdict, target: RoutedRecord, correlation_id: str) -> RecordEvent:
    """As board_router.routing.verdict_event: the record event a verdict becomes, its id derived from the verdict's."""
    event_type = verdict_event_type(verdict.action, verdict.accepted)
    common: dict[str, Any] = {
        "event_id": verdict_event_id(verdict.event_id), "event_type": event_type,
        "record_id": verdict.record_id, "provider_id": verdict.provider_id, "correlation_id": correlation_id,
        "submission_id": target.submission_id, "target": target.target, "response_id": verdict.event_id,
        "occurred_at": verdict.occurred_at,
    }
    if event_type == "RecordRejected":
        return RecordRejected(errors=verdict.errors, record=RejectedRecord(
            target.activity_id, target.first_name, target.last_name, target.completion_date, target.learner_id),
            **common)
    if event_type == "RecordDeleted":
        return RecordDeleted(**common)
    return RecordAccepted(**common)


def outbox_message(topic: str, message: Message, key: str) -> OutboxMessage:
    """As shared.outbox.event_message: the JSON value, its key, and the headers tools read without decoding."""
    headers = {"event_type": message.event_type, "correlation_id": message.correlation_id,
               "event_id": str(message.event_id)}
    return OutboxMessage(topic=topic, value=_encoder.encode(message), key=key.encode(), headers=headers)


def record_json(record: RoutedRecord) -> bytes:
    """The record as the routed_records table keeps it: the JSON LearnerRecord writes."""
    return _encoder.encode(record)
