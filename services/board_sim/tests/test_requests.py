"""Board-sim's msgspec reading of a request stays a subset of shared.events.ProcessBoardRequest, which writes it."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import msgspec
import pytest

from board_sim.requests import BoardRequest, decode_request
from shared.event_views import unwritten_fields
from shared.events import LearnerRecord, ProcessBoardRequest, Target


def test_every_field_read_is_one_the_model_writes() -> None:
    assert unwritten_fields(ProcessBoardRequest, BoardRequest) == []
    assert BoardRequest.__struct_config__.tag == ProcessBoardRequest.model_fields["event_type"].default


def sent() -> ProcessBoardRequest:
    record = LearnerRecord(
        record_id=uuid4(), submission_id=uuid4(), provider_id="0008001", credit_id="ccid-1", activity_id="210016865",
        first_name="Harper", last_name="Benton", dob="11/11", completion_date=date(2021, 11, 2),
        target=Target(kind="moc", code="ABS"), learner_id="19927", learner_id_matched=True, credits=Decimal("1.25"),
        credit_types={"Medical Knowledge": Decimal("1.25")}, activity_max_credits=Decimal(10))
    return ProcessBoardRequest(request_id=uuid4(), action="delete", record=record, correlation_id="corr-1",
                               provider_id="0008001", record_id=record.record_id, submission_id=record.submission_id)


def test_a_request_reads_as_the_model_wrote_it() -> None:
    model = sent()
    read = decode_request(model.to_bytes())
    for name in BoardRequest.__struct_fields__:
        if name != "record":
            assert getattr(read, name) == getattr(model, name), name
    for name in read.record.__struct_fields__:
        value = getattr(read.record, name)
        expected = getattr(model.record, name)
        assert (msgspec.structs.asdict(value) if name == "target" else value) == (
            expected.model_dump() if name == "target" else expected), name


def test_a_message_not_a_request_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_request(sent().to_bytes().replace(b'"ProcessBoardRequest"', b'"BoardVerdict"'))
    with pytest.raises(msgspec.ValidationError):  # a request without its action
        decode_request(sent().to_bytes().replace(b'"action"', b'"actionx"'))
