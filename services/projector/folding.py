"""A record's status as a fold over its events, and the row a PARS rejection leaves; free of Kafka and SQL."""

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel

from shared.codes import ParsError
from shared.dates import normalize_month_day, parse_completion_date
from shared.events import (
    DeleteSubmitted,
    Envelope,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordRejectedByPars,
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


class RejectionRow(BaseModel):
    """A record PARS itself rejected: never kept (no status to fold), yet its provider must find it by its ID.

    The reported text is kept as a record's row keeps it (trimmed, the date of birth as MM/DD, the completion
    date as a date); what is blank or does not parse is None.
    """

    record_id: UUID
    submission_id: UUID
    provider_id: str
    credit_id: str | None
    activity_id: str | None
    target_kind: str
    board: str
    first_name: str | None
    last_name: str | None
    dob: str | None
    learner_id: str | None
    completion_date: date | None
    errors: list[ParsError]
    rejected_at: datetime


def rejection(event: Envelope) -> RejectionRow | None:
    """The row a `RecordRejectedByPars` leaves; every other event leaves none."""
    if not isinstance(event, RecordRejectedByPars):
        return None
    r = event.record
    completed = _text(r.completion_date)
    return RejectionRow(
        record_id=r.record_id, submission_id=r.submission_id, provider_id=r.provider_id,
        credit_id=_text(r.credit_id), activity_id=_text(r.activity_id), target_kind=r.target.kind,
        board=r.target.code, first_name=_text(r.first_name), last_name=_text(r.last_name),
        dob=normalize_month_day(_text(r.dob)), learner_id=_text(r.learner_id) or _text(r.npi),
        completion_date=parse_completion_date(completed) if completed else None, errors=event.errors,
        rejected_at=event.occurred_at,
    )


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None
