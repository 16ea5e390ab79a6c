"""The notifier's msgspec reading of record events gives what the pydantic models held, for what it keeps."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import msgspec
import pytest

from notifier.events import READ, RecordRejected, RecordRejectedByPars, decode_record_event
from shared import events
from shared.codes import pars_error
from shared.consumer import event_types
from shared.event_views import unwritten_fields

TARGET = events.Target(kind="moc", code="ABIM")
ENVELOPE = {"provider_id": "0008001", "correlation_id": "req-1", "record_id": uuid.uuid4(),
            "occurred_at": datetime(2026, 11, 2, 9, 30, tzinfo=UTC)}


def test_a_board_rejection_keeps_what_a_digest_line_shows_of_its_record() -> None:
    shown = events.RejectedRecord(activity_id="210000001", first_name="Harper", last_name="Benton",
                                  completion_date=date(2026, 11, 2), learner_id="100001")
    sent = events.RecordRejected(target=TARGET, response_id=uuid.uuid4(), errors=[pars_error("661")], record=shown,
                                 **ENVELOPE)
    got = decode_record_event(sent.to_bytes())
    assert isinstance(got, RecordRejected) and got.record is not None
    assert (got.event_id, got.correlation_id, got.provider_id, got.occurred_at) == (
        sent.event_id, "req-1", "0008001", sent.occurred_at)
    r = got.record
    assert (r.activity_id, r.first_name, r.last_name, r.learner_id, r.completion_date) == (
        "210000001", "Harper", "Benton", "100001", "2026-11-02")


def test_rejections_keep_their_errors_as_the_models_dumped_them() -> None:
    errors = [pars_error("664"), pars_error("690")]
    board = events.RecordRejected(target=TARGET, response_id=uuid.uuid4(), errors=errors, **ENVELOPE)
    got = decode_record_event(board.to_bytes())
    assert isinstance(got, RecordRejected)
    assert (got.target.code, got.errors, got.record_id, got.record) == (
        "ABIM", [e.model_dump() for e in errors], board.record_id, None)  # a router's before 2026-12-03

    reported = events.ReportedRecord(record_id=ENVELOPE["record_id"], submission_id=uuid.uuid4(),
                                     provider_id="0008001", channel="ws", first_name="Harper", target=TARGET,
                                     completion_date="11/2/2026")
    by_pars = events.RecordRejectedByPars(record=reported, errors=errors[:1], **ENVELOPE)
    got = decode_record_event(by_pars.to_bytes())
    assert isinstance(got, RecordRejectedByPars)
    assert (got.record.channel, got.record.first_name, got.record.last_name, got.record.completion_date,
            got.record.target.code, got.errors) == ("ws", "Harper", None, "11/2/2026", "ABIM",
                                                    [errors[0].model_dump()])


def test_the_header_lets_through_only_what_it_decodes() -> None:
    assert event_types(*READ) == {b"RecordRejected", b"RecordRejectedByPars"}
    accepted = events.RecordAccepted(target=TARGET, **ENVELOPE)
    with pytest.raises(msgspec.ValidationError):  # without a header it is decoded, fails, and is dead-lettered
        decode_record_event(accepted.to_bytes())
    record = events.LearnerRecord(
        record_id=ENVELOPE["record_id"], submission_id=uuid.uuid4(), provider_id="0008001", credit_id="ccid:1",
        activity_id="210000001", first_name="Harper", last_name="Benton", completion_date=date(2026, 11, 2),
        target=TARGET, credits=Decimal("1.25"))
    with pytest.raises(msgspec.ValidationError):  # the notifier no longer reads submissions
        decode_record_event(events.RecordSubmitted(record=record, **ENVELOPE).to_bytes())


@pytest.mark.parametrize(("model", "view"), [(events.RecordRejected, RecordRejected),
                                             (events.RecordRejectedByPars, RecordRejectedByPars)])
def test_every_field_read_is_one_the_model_writes(model: type[events.Envelope], view: type[msgspec.Struct]) -> None:
    assert unwritten_fields(model, view) == []
