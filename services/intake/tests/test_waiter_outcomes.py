"""What a waiting caller is told of each outcome event: the status the record reached (shared.lifecycle)."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from intake.waiters import outcome
from shared.codes import pars_error
from shared.events import (
    DeleteSubmitted,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordRejectedByPars,
    RecordSubmitted,
    ReportedRecord,
    Target,
)

TARGET = Target(kind="moc", code="ABOHNS")
COMMON = {"correlation_id": "c", "provider_id": "0008001"}


def kept(record_id: object) -> LearnerRecord:
    return LearnerRecord.model_validate({
        "record_id": record_id, "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton",
        "completion_date": date(2021, 11, 2), "target": TARGET, "credits": Decimal(6)})


@pytest.mark.parametrize(("needs_board", "status"), [(True, "Submitted"), (False, "Accepted")])
def test_a_kept_record_is_submitted_or_accepted_at_once(needs_board: bool, status: str) -> None:
    record_id = uuid4()
    answer = outcome(RecordSubmitted(record_id=record_id, record=kept(record_id), needs_board=needs_board, **COMMON))
    assert answer is not None and answer.record_id == record_id and answer.status == status


def test_a_pars_rejection_answers_with_its_codes() -> None:
    reported = ReportedRecord(record_id=uuid4(), submission_id=uuid4(), provider_id="0008001", target=TARGET)
    answer = outcome(RecordRejectedByPars(record_id=reported.record_id, record=reported,
                                          errors=[pars_error("622")], **COMMON))
    assert answer is not None and answer.status == "Rejected by PARS" and answer.errors[0]["code"] == "622"


@pytest.mark.parametrize(("event", "status"), [(DeleteSubmitted, "Delete Submitted"), (RecordDeleted, "Deleted")])
def test_a_delete_answers_under_its_own_record_id(event: type[DeleteSubmitted | RecordDeleted], status: str) -> None:
    deleted, reported_as = uuid4(), uuid4()
    answer = outcome(event(record_id=deleted, reported_as=reported_as, target=TARGET, **COMMON))
    assert answer is not None and answer.record_id == reported_as and answer.status == status


def test_a_boards_verdict_answers_no_caller() -> None:
    record_id = uuid4()
    assert outcome(RecordAccepted(record_id=record_id, target=TARGET, **COMMON)) is None
    assert outcome(RecordRejected(record_id=record_id, target=TARGET, response_id=uuid4(), errors=[],
                                  **COMMON)) is None
    assert outcome(RecordDeleted(record_id=record_id, target=TARGET, **COMMON)) is None  # no Delete reported it
