"""What the router writes through msgspec is, byte for byte, what shared.events' models write for the same message
(board_router.routing builds those models: the contract's reading of the router's messages)."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import msgspec
import pytest
from pydantic import BaseModel

from board_router import messages, routing
from board_router.events import RecordSubmitted, RoutedRecord, decode_record_event, decode_verdict
from shared import events as written
from shared.codes import pars_error
from shared.outbox import event_message


@pytest.mark.parametrize(("model", "struct"), [
    (written.ProcessBoardRequest, messages.BoardRequest), (written.RecordAccepted, messages.RecordAccepted),
    (written.RecordRejected, messages.RecordRejected), (written.RecordDeleted, messages.RecordDeleted),
])
def test_each_message_has_its_models_fields_in_its_order(model: type[BaseModel], struct: type[msgspec.Struct]) -> None:
    assert list(struct.__struct_fields__) == list(model.model_fields)


def learner_record() -> written.LearnerRecord:
    return written.LearnerRecord(
        record_id=uuid4(), submission_id=uuid4(), provider_id="0008001", channel="batch", credit_id="ccid-1",
        activity_id="210016865", first_name="Harper", last_name="Benton", dob="11/11",
        completion_date=date(2021, 11, 2), target=written.Target(kind="moc", code="ABOHNS"), learner_id=None,
        credits=Decimal("1.25"), credit_types={"Medical Knowledge": Decimal("1.25")}, batch_id=uuid4(), row_number=3)


def routed(record: written.LearnerRecord) -> RoutedRecord:
    event = written.RecordSubmitted(record=record, correlation_id="c", provider_id=record.provider_id)
    read = decode_record_event(event.to_bytes())
    assert isinstance(read, RecordSubmitted)
    return read.record


@pytest.mark.parametrize("action", ["add", "delete"])
def test_a_board_request_is_the_models(action: str) -> None:
    record = learner_record()
    sent = messages.board_request(routed(record), action, "corr-1")
    model = routing.board_request(record, action, "corr-1").model_copy(
        update={"event_id": sent.event_id, "occurred_at": sent.occurred_at})
    got, expected = messages.outbox_message("t", sent, "k"), event_message("t", model, "k")
    assert got == expected


@pytest.mark.parametrize(("action", "accepted"), [("add", True), ("add", False), ("delete", True), ("delete", False)])
def test_the_record_event_a_verdict_becomes_is_the_models(action: str, accepted: bool) -> None:
    record = learner_record()
    verdict = written.BoardVerdict(
        request_id=routing.request_id(record.record_id, action), board="ABOHNS", action=action, accepted=accepted,
        errors=[] if accepted else [pars_error("661"), pars_error("664")], record_id=record.record_id,
        provider_id=record.provider_id, correlation_id="corr-board")
    event = messages.verdict_event(decode_verdict(verdict.to_bytes()), routed(record), "corr-1")
    model = routing.verdict_event(verdict, record, "corr-1")
    assert event.event_type == model.event_type
    assert messages.outbox_message("t", event, "k") == event_message("t", model, "k")
