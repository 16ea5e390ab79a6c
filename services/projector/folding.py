"""A record's status as a fold over its events, and the row a PARS rejection leaves; free of Kafka and SQL.

A batch's events fold into one `RecordChange` per record without reading the record's row: every event after
a record's submission sets its columns whatever they were (status, errors, the deleted flag, updated_at), so
what a batch does is known before the projection is read. Only whether the projection already has the row
matters, and the one statement that writes the batch (projector.storage.save_changes) tells: a record it
has gets `existing`; one it has not is made from the batch's first RecordSubmitted, with `after` applied.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from uuid import UUID

from msgspec import Raw

from projector.events import (
    NO_ERRORS,
    RecordEvent,
    RecordRejected,
    RecordRejectedByPars,
    RecordSubmitted,
)
from shared.dates import normalize_month_day, parse_completion_date
from shared.lifecycle import KEPT_STATUS_AFTER, RecordStatus, status_after


@dataclass(slots=True)
class Patch:
    """Columns events set on a row; None (False for `deleted`) leaves the column as it is."""

    status: RecordStatus | None = None
    errors: Raw | None = None  # JSON, as the event carried it
    deleted: bool = False
    updated_at: datetime | None = None

    def __bool__(self) -> bool:
        return self.updated_at is not None  # every event that changes a row sets it


@dataclass(slots=True)
class RecordChange:
    """What one batch's events do to one record's row."""

    existing: Patch = field(default_factory=Patch)  # applied to the row the projection has
    created: RecordSubmitted | None = None  # the row, had the projection none: the batch's first submission
    after: Patch = field(default_factory=Patch)  # what followed that submission


# Plain names for the hot loop (a mapping proxy's get and an enum's attributes cost more than the dict and a global).
_STATUS_AFTER = dict(KEPT_STATUS_AFTER)
_DELETED, _ACCEPTED = RecordStatus.DELETED, RecordStatus.ACCEPTED


def fold(change: RecordChange | None, event: RecordEvent) -> RecordChange | None:
    """The change after `event` (the events of a record, in log order). Events that change no row (a second
    submission, a PARS rejection) leave it as it was; a change that does nothing is None. The status comes from
    the lifecycle, which moves every kept record alike: the fold need not know the row's status."""
    if isinstance(event, RecordSubmitted):
        change = change or RecordChange()
        if change.created is None:
            change.created = event
        return change
    status = _STATUS_AFTER.get(event.event_type)
    if status is None:
        return change
    deleted = status is _DELETED
    if deleted:  # the row keeps the status it had, flagged deleted
        status, errors = None, None
    elif isinstance(event, RecordRejected):
        errors = event.errors
    else:
        errors = NO_ERRORS if status is _ACCEPTED else None
    change = change or RecordChange()
    for patch in (change.existing, change.after) if change.created is not None else (change.existing,):
        if status is not None:
            patch.status = status
        if errors is not None:
            patch.errors = errors
        patch.deleted = patch.deleted or deleted
        patch.updated_at = event.occurred_at
    return change


def new_row(change: RecordChange) -> tuple[Any, ...] | None:
    """The row of a record the projection does not have yet (columns as in storage.RECORD_COLUMNS)."""
    event = change.created
    if event is None:
        return None
    r, after = event.record, change.after
    errors = NO_ERRORS if after.errors is None else after.errors
    return (r.record_id, r.submission_id, r.provider_id, r.credit_id, r.activity_id, r.target.kind, r.target.code,
            r.first_name, r.last_name, r.dob, r.learner_id, r.completion_date, event.occurred_at, r.credits,
            r.credit_types, after.status or status_after(None, event.event_type), errors, after.deleted,
            after.updated_at or event.occurred_at)


class RejectionRow(NamedTuple):
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
    errors: Raw  # JSON, as the event carried it
    rejected_at: datetime


def rejection(event: RecordEvent) -> RejectionRow | None:
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
