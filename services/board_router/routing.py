"""Routing decisions, free of Kafka and SQL: what to ask a board, and what a verdict means for the record.

`board_request` and `verdict_event` build the messages as shared.events' models: the contract of what the router
writes (tests/test_topic_contracts.py). The handlers write the same bytes through board_router.messages, which
takes its ids and event types from here.
"""

from datetime import datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID

from shared.boards import Board
from shared.events import (
    BoardVerdict,
    Envelope,
    LearnerRecord,
    ProcessBoardRequest,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RejectedRecord,
)
from shared.ids import derived_id

# A board that has not answered within its latency and this grace is asked again.
ANSWER_GRACE = timedelta(seconds=30)


def request_id(record_id: UUID, action: str) -> UUID:
    """The same record and action always make the same request id, so a board can recognise a retry."""
    return derived_id(record_id, f"pars:request:{record_id}:{action}")


class Learner(Protocol):
    """A learner record as the request key reads it: shared.events.LearnerRecord, board_router.events.RoutedRecord."""

    @property
    def learner_id(self) -> str | None: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def dob(self) -> str | None: ...


def learner_key(record: Learner) -> str:
    """The request topic's key: the learner's board ID, or (boards that match without one) name and birthday."""
    if record.learner_id:
        return record.learner_id.strip()
    return f"{record.last_name.strip().lower()}|{record.first_name.strip().lower()}|{record.dob or ''}"


def answer_due(board: Board, latency_scale: float, now: datetime, grace: timedelta = ANSWER_GRACE) -> datetime:
    return board.answer_time(now, latency_scale) + grace


def board_request(record: LearnerRecord, action: str, correlation_id: str) -> ProcessBoardRequest:
    return ProcessBoardRequest(
        request_id=request_id(record.record_id, action), action=action, record=record,
        correlation_id=correlation_id, provider_id=record.provider_id, record_id=record.record_id,
        submission_id=record.submission_id,
    )


def verdict_event_id(verdict_id: UUID) -> UUID:
    """The id of the record event a verdict becomes: derived from the verdict's, so re-appending is a no-op."""
    return derived_id(verdict_id, f"pars:verdict:{verdict_id}")


VerdictEventType = Literal["RecordAccepted", "RecordRejected", "RecordDeleted"]


def verdict_event_type(action: str, accepted: bool) -> VerdictEventType:
    if action == "delete":
        # A refused delete leaves the record as the board holds it: accepted.
        return "RecordDeleted" if accepted else "RecordAccepted"
    return "RecordAccepted" if accepted else "RecordRejected"


def rejected_record(record: LearnerRecord) -> RejectedRecord:
    return RejectedRecord(activity_id=record.activity_id, first_name=record.first_name, last_name=record.last_name,
                          completion_date=record.completion_date, learner_id=record.learner_id)


def verdict_event(verdict: BoardVerdict, target: LearnerRecord, correlation_id: str) -> Envelope:
    """The record event a verdict becomes; its id derives from the verdict's, so re-appending is a no-op."""
    common = {
        "event_id": verdict_event_id(verdict.event_id),
        "record_id": verdict.record_id, "provider_id": verdict.provider_id, "correlation_id": correlation_id,
        "submission_id": target.submission_id, "target": target.target, "response_id": verdict.event_id,
        "occurred_at": verdict.occurred_at,  # when the board answered: the same on every replay
    }
    event_type = verdict_event_type(verdict.action, verdict.accepted)
    if event_type == "RecordDeleted":
        return RecordDeleted(**common)
    if event_type == "RecordRejected":
        return RecordRejected(errors=verdict.errors, record=rejected_record(target), **common)
    return RecordAccepted(**common)
