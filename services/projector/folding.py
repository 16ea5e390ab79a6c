"""A record's status as a fold over its events, free of Kafka and SQL."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from shared.codes import ParsError
from shared.events import (
    DeleteSubmitted,
    Envelope,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordSubmitted,
)


class RecordRow(BaseModel):
    record_id: UUID
    submission_id: UUID
    provider_id: str
    credit_id: str
    activity_id: str
    target_kind: str
    board: str
    first_name: str
    last_name: str
    dob: str | None
    learner_id: str | None
    completion_date: date
    submitted_at: datetime
    credits: Decimal
    credit_types: dict[str, Decimal]
    status: str
    errors: list[ParsError]
    deleted: bool = False
    updated_at: datetime


def fold(row: RecordRow | None, event: Envelope) -> RecordRow | None:
    """The row after `event`; events for a record the projection never saw submitted change nothing."""
    if isinstance(event, RecordSubmitted):
        if row is not None:
            return row
        r = event.record
        return RecordRow(
            record_id=r.record_id, submission_id=r.submission_id, provider_id=r.provider_id, credit_id=r.credit_id,
            activity_id=r.activity_id, target_kind=r.target.kind, board=r.target.code, first_name=r.first_name,
            last_name=r.last_name, dob=r.dob, learner_id=r.learner_id, completion_date=r.completion_date,
            submitted_at=event.occurred_at, credits=r.credits, credit_types=r.credit_types, status="Submitted",
            errors=[], updated_at=event.occurred_at,
        )
    if row is None:
        return None
    change: dict[str, object] = {"updated_at": event.occurred_at}
    if isinstance(event, RecordAccepted):
        change |= {"status": "Accepted", "errors": []}
    elif isinstance(event, RecordRejected):
        change |= {"status": "Rejected", "errors": event.errors}
    elif isinstance(event, DeleteSubmitted):
        change |= {"status": "Delete Submitted"}
    elif isinstance(event, RecordDeleted):
        change |= {"deleted": True}
    else:
        return row
    return row.model_copy(update=change)
