"""The batch tally's msgspec reading of outcome events notes what `?wait=true` callers are told, for a batch's
records only; the others are passed over undecoded."""

import uuid
from datetime import date
from decimal import Decimal

import msgspec
import pytest

from intake.batches import outcomes
from intake.batches.outcomes import NO_BATCH, READ, batch_outcome
from intake.batches.storage import Outcome
from intake.waiters import outcome
from shared import events
from shared.codes import pars_error
from shared.consumer import event_types
from shared.event_views import unwritten_fields

TARGET = events.Target(kind="moc", code="ABIM")
ENVELOPE = {"provider_id": "0008001", "correlation_id": "req-1"}


def learner(batch_id: uuid.UUID | None) -> events.LearnerRecord:
    return events.LearnerRecord(
        record_id=uuid.uuid4(), submission_id=uuid.uuid4(), provider_id="0008001", channel="batch",
        credit_id="ccid:1", activity_id="210000001", first_name="Harper", last_name="Benton", dob="11/11",
        completion_date=date(2026, 11, 2), target=TARGET, learner_id="100001", credits=Decimal("1.25"),
        credit_types={"Medical Knowledge": Decimal("1.25")}, batch_id=batch_id, row_number=2 if batch_id else None)


def reported(batch_id: uuid.UUID | None) -> events.ReportedRecord:
    return events.ReportedRecord(record_id=uuid.uuid4(), submission_id=uuid.uuid4(), provider_id="0008001",
                                 target=TARGET, first_name="Harper", batch_id=batch_id)


def test_a_batch_records_outcome_is_what_its_caller_would_be_told() -> None:
    batch_id = uuid.uuid4()
    submitted = events.RecordSubmitted(record=learner(batch_id), **ENVELOPE)
    rejected = events.RecordRejectedByPars(record=reported(batch_id), errors=[pars_error("664"), pars_error("690")],
                                           **ENVELOPE)
    assert batch_outcome(submitted.to_bytes()) == Outcome(submitted.record.record_id, "added", [])
    told = outcome(rejected)
    assert told is not None
    assert batch_outcome(rejected.to_bytes()) == Outcome(rejected.record.record_id, "rejected", told.errors)
    assert told.errors == [{"code": "664", "message": pars_error("664").message},
                           {"code": "690", "message": pars_error("690").message}]


def test_an_api_records_outcome_is_passed_over_on_its_bytes() -> None:
    submitted = events.RecordSubmitted(record=learner(None), **ENVELOPE)
    rejected = events.RecordRejectedByPars(record=reported(None), errors=[pars_error("664")], **ENVELOPE)
    for event in (submitted, rejected):
        assert NO_BATCH in event.to_bytes()
        assert batch_outcome(event.to_bytes()) is None
    # JSON written otherwise (spaced) is decoded, and still told apart by its batch ID
    spaced = submitted.to_bytes().replace(NO_BATCH, b'"batch_id": null')
    assert batch_outcome(spaced) is None


def test_a_deletes_outcome_counts_for_the_record_it_was_reported_as() -> None:
    reported_as = uuid.uuid4()
    taken = events.DeleteSubmitted(target=TARGET, reported_as=reported_as, record_id=uuid.uuid4(), **ENVELOPE)
    gone = events.RecordDeleted(target=TARGET, reported_as=reported_as, record_id=uuid.uuid4(), **ENVELOPE)
    for event in (taken, gone):
        assert batch_outcome(event.to_bytes()) == Outcome(reported_as, "added", [])
    unreported = events.RecordDeleted(target=TARGET, record_id=uuid.uuid4(), **ENVELOPE)
    assert batch_outcome(unreported.to_bytes()) is None


def test_the_header_lets_through_only_what_it_decodes() -> None:
    assert event_types(*READ) == {b"RecordSubmitted", b"RecordRejectedByPars", b"DeleteSubmitted",
                                  b"RecordDeleted"}
    accepted = events.RecordAccepted(target=TARGET, **ENVELOPE)
    with pytest.raises(msgspec.ValidationError):  # without a header it is decoded, fails, and is dead-lettered
        batch_outcome(accepted.to_bytes())
    with pytest.raises(msgspec.DecodeError):
        batch_outcome(b"not json")


@pytest.mark.parametrize(("model", "view"), [
    (events.RecordSubmitted, outcomes._RecordSubmitted), (events.RecordRejectedByPars, outcomes._RecordRejectedByPars),
    (events.DeleteSubmitted, outcomes._DeleteSubmitted), (events.RecordDeleted, outcomes._RecordDeleted)])
def test_every_field_read_is_one_the_model_writes(model: type[events.Envelope], view: type[msgspec.Struct]) -> None:
    assert unwritten_fields(model, view) == []
