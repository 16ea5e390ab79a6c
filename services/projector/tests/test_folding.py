"""A record's projected row as a fold over its events."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from projector.folding import RecordRow, fold, rejection
from shared.codes import pars_error
from shared.events import (
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordRejectedByPars,
    RecordSubmitted,
    ReportedRecord,
    Target,
)

T0 = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)
TARGET = Target(kind="moc", code="ABOHNS")
RECORD_ID = UUID("7b0c1a52-4f5e-4d55-9d1e-1c7c0c5b0a01")
SUBMISSION_ID = UUID("7b0c1a52-4f5e-4d55-9d1e-1c7c0c5b0a02")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def common(minutes: int) -> dict[str, object]:
    return {"record_id": RECORD_ID, "submission_id": SUBMISSION_ID, "provider_id": "0008001",
            "correlation_id": "corr-1", "occurred_at": at(minutes)}


def learner_record(**changes: object) -> LearnerRecord:
    fields: dict[str, object] = {
        "record_id": RECORD_ID, "submission_id": SUBMISSION_ID, "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": TARGET, "learner_id": "19927", "credits": Decimal(6),
        "credit_types": {"Self-Assessment": Decimal(5), "Patient Safety": Decimal(1)},
    }
    return LearnerRecord(**(fields | changes))


def submitted(minutes: int = 0, **changes: object) -> RecordSubmitted:
    return RecordSubmitted(record=learner_record(**changes), **common(minutes))


def accepted(minutes: int) -> RecordAccepted:
    return RecordAccepted(target=TARGET, response_id=uuid4(), **common(minutes))


def rejected(minutes: int, *codes: str) -> RecordRejected:
    return RecordRejected(target=TARGET, response_id=uuid4(), errors=[pars_error(c) for c in codes],
                          **common(minutes))


def delete_submitted(minutes: int) -> DeleteSubmitted:
    return DeleteSubmitted(target=TARGET, **common(minutes))


def deleted(minutes: int) -> RecordDeleted:
    return RecordDeleted(target=TARGET, response_id=uuid4(), **common(minutes))


def rejected_by_pars(minutes: int) -> RecordRejectedByPars:
    reported = ReportedRecord(record_id=RECORD_ID, submission_id=SUBMISSION_ID, provider_id="0008001",
                              target=TARGET)
    return RecordRejectedByPars(record=reported, errors=[pars_error("630")], **common(minutes))


def fold_all(events: list[Envelope], row: RecordRow | None = None) -> RecordRow | None:
    for event in events:
        row = fold(row, event)
    return row


def test_submitted_makes_the_row() -> None:
    row = fold(None, submitted())
    assert row is not None
    assert row.record_id == RECORD_ID and row.submission_id == SUBMISSION_ID
    assert (row.provider_id, row.credit_id, row.activity_id) == ("0008001", "ccid-1", "210016865")
    assert (row.target_kind, row.board) == ("moc", "ABOHNS")
    assert (row.first_name, row.last_name, row.dob, row.learner_id) == ("Harper", "Benton", "11/11", "19927")
    assert row.completion_date == date(2021, 11, 2)
    assert row.credits == Decimal(6)
    assert row.credit_types == {"Self-Assessment": Decimal(5), "Patient Safety": Decimal(1)}
    assert row.status == "Submitted"
    assert row.errors == []
    assert row.deleted is False
    assert row.submitted_at == row.updated_at == T0


def test_submitted_then_accepted() -> None:
    row = fold_all([submitted(), accepted(5)])
    assert row is not None
    assert row.status == "Accepted"
    assert row.errors == []
    assert row.updated_at == at(5)
    assert row.submitted_at == T0


def test_submitted_then_rejected_keeps_the_errors() -> None:
    row = fold_all([submitted(), rejected(5, "664", "665")])
    assert row is not None
    assert row.status == "Rejected"
    assert [(e.code, e.message) for e in row.errors] == [
        ("664", "Diplomate date of birth does not match Board record for this diplomate ID."),
        ("665", "Diplomate name does not batch Board record."),
    ]
    assert row.updated_at == at(5)


def test_accepted_then_delete_submitted_then_deleted() -> None:
    row = fold_all([submitted(), accepted(5)])
    row = fold(row, delete_submitted(10))
    assert row is not None and row.status == "Delete Submitted" and row.deleted is False
    row = fold(row, deleted(15))
    assert row is not None
    assert row.deleted is True
    assert row.updated_at == at(15)


@pytest.mark.parametrize("event", [accepted(5), rejected(5, "661"), delete_submitted(5), deleted(5),
                                   rejected_by_pars(5)])
def test_events_for_an_unknown_record_give_no_row(event: Envelope) -> None:
    assert fold(None, event) is None


def test_a_second_submitted_keeps_the_first_row() -> None:
    first = fold(None, submitted())
    again = fold(first, submitted(30, first_name="Someone", credits=Decimal(1)))
    assert again == first


def test_a_second_submitted_does_not_undo_later_events() -> None:
    row = fold_all([submitted(), rejected(5, "661")])
    assert fold(row, submitted()) == row


def test_rejected_by_pars_changes_nothing() -> None:
    row = fold(None, submitted())
    assert fold(row, rejected_by_pars(5)) is row


@pytest.mark.parametrize("make", [accepted, lambda m: rejected(m, "661"), delete_submitted, deleted])
def test_applying_the_same_event_twice_is_a_no_op(make: Callable[[int], Envelope]) -> None:
    row = fold(None, submitted())
    event = make(5)
    once = fold(row, event)
    assert fold(once, event) == once


LIVES = {
    "accepted then deleted": [submitted(), accepted(5), delete_submitted(10), deleted(15)],
    "rejected": [submitted(), rejected(5, "664")],
    "accepted at once": [submitted(), accepted(0)],
    "delete refused": [submitted(), accepted(5), delete_submitted(10), accepted(15)],
}


@pytest.mark.parametrize("events", LIVES.values(), ids=LIVES.keys())
def test_duplicate_submitted_anywhere_in_the_log_changes_nothing(events: list[Envelope]) -> None:
    expected = fold_all(events)
    assert expected is not None
    first = events[0]
    for position in range(1, len(events) + 1):
        with_duplicate = [*events[:position], first, *events[position:]]
        assert fold_all(with_duplicate) == expected, position
    # A redelivered copy of the same event after every step.
    assert fold_all([e for event in events for e in (event, first)]) == expected


def test_replaying_the_log_into_an_empty_projection_gives_the_same_row() -> None:
    events = LIVES["accepted then deleted"]
    assert fold_all(events) == fold_all(events)
    assert fold_all(events[2:], fold_all(events[:2])) == fold_all(events)


def reported(**changes: object) -> ReportedRecord:
    fields: dict[str, object] = {
        "record_id": RECORD_ID, "submission_id": SUBMISSION_ID, "provider_id": "0008001", "target": TARGET,
        "credit_id": " ccid-1 ", "activity_id": "999999999", "first_name": " Harper", "last_name": "Benton ",
        "dob": "1/5", "completion_date": "11/02/2021", "learner_id": "19927", "credits": "6",
    }
    return ReportedRecord(**(fields | changes))


def test_a_pars_rejection_keeps_the_record_as_reported_with_its_errors() -> None:
    event = RecordRejectedByPars(record=reported(), errors=[pars_error("690")], **common(3))
    row = rejection(event)
    assert row is not None
    assert (row.record_id, row.submission_id, row.provider_id) == (RECORD_ID, SUBMISSION_ID, "0008001")
    assert (row.credit_id, row.activity_id, row.target_kind, row.board) == ("ccid-1", "999999999", "moc", "ABOHNS")
    assert (row.first_name, row.last_name, row.dob, row.learner_id) == ("Harper", "Benton", "01/05", "19927")
    assert row.completion_date == date(2021, 11, 2)
    assert [(e.code, e.message) for e in row.errors] == [("690", pars_error("690").message)]
    assert row.rejected_at == at(3)


def test_a_pars_rejection_leaves_what_is_blank_or_unreadable_empty() -> None:
    event = RecordRejectedByPars(record=reported(credit_id="  ", activity_id=None, first_name="", dob="31/31",
                                                 completion_date="2021-13-45", learner_id=None, npi="1234567893"),
                                 errors=[pars_error("630"), pars_error("631")], **common(0))
    row = rejection(event)
    assert row is not None
    assert (row.credit_id, row.activity_id, row.first_name, row.completion_date) == (None, None, None, None)
    assert row.dob == "31/31"  # no month/day: kept as reported
    assert row.learner_id == "1234567893"  # the NPI stands in for a missing learner ID, as for a kept record
    assert [e.code for e in row.errors] == ["630", "631"]


@pytest.mark.parametrize("event", [submitted(), accepted(5), rejected(5, "661"), delete_submitted(5), deleted(5)])
def test_only_a_pars_rejection_leaves_a_rejection_row(event: Envelope) -> None:
    assert rejection(event) is None


def test_the_same_pars_rejection_twice_gives_the_same_row() -> None:
    event = rejected_by_pars(5)
    assert rejection(event) == rejection(RecordRejectedByPars.model_validate_json(event.model_dump_json()))
