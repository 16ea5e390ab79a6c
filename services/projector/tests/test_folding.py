"""A record's projected row as a fold over its events, read off the topic as the projector reads them."""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from projector.events import RecordEvent, decode_record_event
from projector.folding import Patch, RecordChange, fold, new_row, rejection
from projector.storage import RECORD_COLUMNS
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
from shared.lifecycle import RecordStatus

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


def decoded(event: Envelope) -> RecordEvent:
    """The event as the projector reads it off the topic."""
    return decode_record_event(event.to_bytes())


def fold_all(events: list[Envelope]) -> RecordChange | None:
    change = None
    for event in events:
        change = fold(change, decoded(event))
    return change


def row(events: list[Envelope]) -> dict[str, object] | None:
    """The row the events leave in a projection that did not have the record."""
    change = fold_all(events)
    values = new_row(change) if change is not None else None
    if values is None:
        return None
    named = dict(zip(RECORD_COLUMNS, values, strict=True))
    for column in ("credit_types", "errors"):
        named[column] = json.loads(bytes(named[column]))
    return named


def patch(events: list[Envelope]) -> Patch:
    """What the events set on the row of a record the projection has."""
    change = fold_all(events)
    return change.existing if change is not None else Patch()


def test_submitted_makes_the_row() -> None:
    made = row([submitted()])
    assert made is not None
    assert made["record_id"] == RECORD_ID and made["submission_id"] == SUBMISSION_ID
    assert (made["provider_id"], made["credit_id"], made["activity_id"]) == ("0008001", "ccid-1", "210016865")
    assert (made["target_kind"], made["board"]) == ("moc", "ABOHNS")
    assert (made["first_name"], made["last_name"], made["dob"], made["learner_id"]) == (
        "Harper", "Benton", "11/11", "19927")
    assert made["completion_date"] == date(2021, 11, 2)
    assert made["credits"] == Decimal(6)
    assert made["credit_types"] == {"Self-Assessment": "5", "Patient Safety": "1"}
    assert made["status"] == "Submitted"
    assert made["errors"] == []
    assert made["deleted"] is False
    assert made["submitted_at"] == made["updated_at"] == T0


def test_submitted_changes_nothing_on_a_row_the_projection_has() -> None:
    assert not patch([submitted()])


def test_submitted_then_accepted() -> None:
    made = row([submitted(), accepted(5)])
    assert made is not None
    assert (made["status"], made["errors"], made["updated_at"], made["submitted_at"]) == ("Accepted", [], at(5), T0)
    assert (patch([accepted(5)]).status, bytes(patch([accepted(5)]).errors or b"")) == ("Accepted", b"[]")


def test_submitted_then_rejected_keeps_the_errors() -> None:
    made = row([submitted(), rejected(5, "664", "665")])
    assert made is not None
    assert made["status"] == "Rejected"
    assert [(e["code"], e["message"]) for e in made["errors"]] == [  # type: ignore[attr-defined]
        ("664", "Diplomate date of birth does not match Board record for this diplomate ID."),
        ("665", "Diplomate name does not batch Board record."),
    ]
    assert made["updated_at"] == at(5)


def test_accepted_then_delete_submitted_then_deleted() -> None:
    made = row([submitted(), accepted(5), delete_submitted(10)])
    assert made is not None and made["status"] == "Delete Submitted" and made["deleted"] is False
    made = row([submitted(), accepted(5), delete_submitted(10), deleted(15)])
    assert made is not None
    assert (made["status"], made["deleted"], made["updated_at"]) == ("Delete Submitted", True, at(15))
    # On a row the projection has: the delete keeps its status and errors, and marks it deleted.
    assert patch([deleted(15)]) == Patch(deleted=True, updated_at=at(15))
    assert patch([delete_submitted(10)]) == Patch(status=RecordStatus.DELETE_SUBMITTED, updated_at=at(10))


@pytest.mark.parametrize("event", [accepted(5), rejected(5, "661"), delete_submitted(5), deleted(5),
                                   rejected_by_pars(5)])
def test_events_for_an_unknown_record_give_no_row(event: Envelope) -> None:
    assert row([event]) is None


def test_events_before_the_submission_apply_only_to_a_row_the_projection_has() -> None:
    events = [accepted(5), submitted(10), rejected(15, "661")]
    made = row(events)
    assert made is not None
    assert (made["status"], made["submitted_at"], made["updated_at"]) == ("Rejected", at(10), at(15))
    assert (patch(events).status, patch(events).updated_at) == ("Rejected", at(15))
    made = row([accepted(5), submitted(10)])
    assert made is not None and (made["status"], made["updated_at"]) == ("Submitted", at(10))
    assert (patch([accepted(5), submitted(10)]).status, patch([accepted(5), submitted(10)]).updated_at) == (
        "Accepted", at(5))


def test_a_second_submitted_keeps_the_first_row() -> None:
    assert row([submitted(), submitted(30, first_name="Someone", credits=Decimal(1))]) == row([submitted()])


def test_a_second_submitted_does_not_undo_later_events() -> None:
    assert row([submitted(), rejected(5, "661"), submitted()]) == row([submitted(), rejected(5, "661")])


def test_rejected_by_pars_changes_nothing() -> None:
    assert row([submitted(), rejected_by_pars(5)]) == row([submitted()])
    assert fold(None, decoded(rejected_by_pars(5))) is None


@pytest.mark.parametrize("make", [accepted, lambda m: rejected(m, "661"), delete_submitted, deleted])
def test_applying_the_same_event_twice_is_a_no_op(make: Callable[[int], Envelope]) -> None:
    event = make(5)
    assert row([submitted(), event, event]) == row([submitted(), event])
    assert patch([event, event]) == patch([event])


LIVES = {
    "accepted then deleted": [submitted(), accepted(5), delete_submitted(10), deleted(15)],
    "rejected": [submitted(), rejected(5, "664")],
    "accepted at once": [submitted(), accepted(0)],
    "delete refused": [submitted(), accepted(5), delete_submitted(10), accepted(15)],
}


@pytest.mark.parametrize("events", LIVES.values(), ids=LIVES.keys())
def test_duplicate_submitted_anywhere_in_the_log_changes_nothing(events: list[Envelope]) -> None:
    expected = row(events)
    assert expected is not None
    first = events[0]
    for position in range(1, len(events) + 1):
        with_duplicate = [*events[:position], first, *events[position:]]
        assert row(with_duplicate) == expected, position
    # A redelivered copy of the same event after every step.
    assert row([e for event in events for e in (event, first)]) == expected


def test_the_last_verdict_wins_on_a_row_the_projection_has() -> None:
    assert patch(LIVES["delete refused"][1:]) == Patch(status=RecordStatus.ACCEPTED, errors=patch([accepted(0)]).errors,
                                                       updated_at=at(15))


def reported(**changes: object) -> ReportedRecord:
    fields: dict[str, object] = {
        "record_id": RECORD_ID, "submission_id": SUBMISSION_ID, "provider_id": "0008001", "target": TARGET,
        "credit_id": " ccid-1 ", "activity_id": "999999999", "first_name": " Harper", "last_name": "Benton ",
        "dob": "1/5", "completion_date": "11/02/2021", "learner_id": "19927", "credits": "6",
    }
    return ReportedRecord(**(fields | changes))


def test_a_pars_rejection_keeps_the_record_as_reported_with_its_errors() -> None:
    event = RecordRejectedByPars(record=reported(), errors=[pars_error("690")], **common(3))
    row = rejection(decoded(event))
    assert row is not None
    assert (row.record_id, row.submission_id, row.provider_id) == (RECORD_ID, SUBMISSION_ID, "0008001")
    assert (row.credit_id, row.activity_id, row.target_kind, row.board) == ("ccid-1", "999999999", "moc", "ABOHNS")
    assert (row.first_name, row.last_name, row.dob, row.learner_id) == ("Harper", "Benton", "01/05", "19927")
    assert row.completion_date == date(2021, 11, 2)
    assert json.loads(bytes(row.errors)) == [pars_error("690").model_dump()]
    assert row.rejected_at == at(3)


def test_a_pars_rejection_leaves_what_is_blank_or_unreadable_empty() -> None:
    event = RecordRejectedByPars(record=reported(credit_id="  ", activity_id=None, first_name="", dob="31/31",
                                                 completion_date="2021-13-45", learner_id=None, npi="1234567893"),
                                 errors=[pars_error("630"), pars_error("631")], **common(0))
    row = rejection(decoded(event))
    assert row is not None
    assert (row.credit_id, row.activity_id, row.first_name, row.completion_date) == (None, None, None, None)
    assert row.dob == "31/31"  # no month/day: kept as reported
    assert row.learner_id == "1234567893"  # the NPI stands in for a missing learner ID, as for a kept record
    assert [e["code"] for e in json.loads(bytes(row.errors))] == ["630", "631"]


@pytest.mark.parametrize("event", [submitted(), accepted(5), rejected(5, "661"), delete_submitted(5), deleted(5)])
def test_only_a_pars_rejection_leaves_a_rejection_row(event: Envelope) -> None:
    assert rejection(decoded(event)) is None


def test_the_same_pars_rejection_twice_gives_the_same_row() -> None:
    event = rejected_by_pars(5)
    again = RecordRejectedByPars.model_validate_json(event.model_dump_json())
    assert rejection(decoded(event)) == rejection(decoded(again))
