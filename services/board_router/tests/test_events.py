"""The router's msgspec reading of record events, verdicts and routed records stays tied to shared.events' models,
which write them."""

import json
from datetime import date
from decimal import Decimal
from uuid import uuid4

import msgspec
import pytest
from pydantic import BaseModel

from board_router import events as read
from board_router.messages import record_json
from shared import codes
from shared import events as written
from shared.event_views import unwritten_fields

PAIRS: dict[type[written.Envelope], type[msgspec.Struct]] = {
    written.RecordSubmitted: read.RecordSubmitted, written.DeleteSubmitted: read.DeleteSubmitted,
    written.RecordRejectedByPars: read.RecordRejectedByPars, written.RecordAccepted: read.RecordAccepted,
    written.RecordRejected: read.RecordRejected, written.RecordDeleted: read.RecordDeleted,
    written.BoardVerdict: read.BoardVerdict,
}


@pytest.mark.parametrize(("model", "struct"), PAIRS.items(), ids=[m.__name__ for m in PAIRS])
def test_every_field_read_is_one_the_model_writes(model: type[BaseModel], struct: type[msgspec.Struct]) -> None:
    assert unwritten_fields(model, struct) == []
    assert struct.__struct_config__.tag == model.model_fields["event_type"].default


@pytest.mark.parametrize(("model", "struct"), [(written.LearnerRecord, read.RoutedRecord),
                                               (written.Target, read.Target), (codes.ParsError, read.ParsError)])
def test_a_record_is_read_whole_in_the_models_order(model: type[BaseModel], struct: type[msgspec.Struct]) -> None:
    # Whole: written back, it must be the model's JSON, and every field a board reads is checked here first.
    assert list(struct.__struct_fields__) == list(model.model_fields)


def learner_record(**changes: object) -> written.LearnerRecord:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "completion_date": date(2021, 11, 2),
        "target": written.Target(kind="moc", code="ABOHNS"), "credits": Decimal(6),
    }
    return written.LearnerRecord(**(fields | changes))


FULL = {"channel": "batch", "dob": "11/11", "npi": "1234567893", "learner_id": "19927", "learner_id_matched": True,
        "credits": Decimal("1.250"), "credit_types": {"Medical Knowledge": Decimal("1.25"), "Ethics": Decimal(0)},
        "activity_max_credits": Decimal(10), "batch_id": uuid4(), "row_number": 7}


@pytest.mark.parametrize("changes", [{}, FULL], ids=["defaults", "every field"])
def test_a_record_written_back_is_the_json_the_model_wrote(changes: dict[str, object]) -> None:
    record = learner_record(**changes)
    event = written.RecordSubmitted(record=record, correlation_id="corr-1", provider_id=record.provider_id,
                                    record_id=record.record_id, needs_board=False)
    routed = read.decode_record_event(event.to_bytes())
    assert isinstance(routed, read.RecordSubmitted)
    assert (routed.event_id, routed.correlation_id, routed.record_id, routed.needs_board) == (
        event.event_id, "corr-1", record.record_id, False)
    assert record_json(routed.record) == record.model_dump_json().encode()
    # As PostgreSQL gives it back: jsonb's text, keys in its own order (credit types too), spaced.
    stored = json.dumps(json.loads(record.model_dump_json()), sort_keys=True, indent=1)
    as_pydantic_read_it = written.LearnerRecord.model_validate_json(stored).model_dump_json().encode()
    assert record_json(read.read_record(stored)) == as_pydantic_read_it


def test_a_delete_and_a_verdict_read_as_the_models_wrote_them() -> None:
    record = learner_record()
    delete = written.DeleteSubmitted(correlation_id="corr-2", provider_id="0008001", record_id=record.record_id,
                                     target=record.target)
    read_delete = read.decode_record_event(delete.to_bytes())
    assert isinstance(read_delete, read.DeleteSubmitted)
    assert (read_delete.event_id, read_delete.correlation_id, read_delete.record_id) == (
        delete.event_id, "corr-2", record.record_id)
    verdict = written.BoardVerdict(request_id=uuid4(), board="ABOHNS", action="add", accepted=False,
                                   errors=[codes.pars_error("661"), codes.pars_error("664")],
                                   record_id=record.record_id, provider_id="0008001", correlation_id="corr-3")
    got = read.decode_verdict(verdict.to_bytes())
    assert [msgspec.structs.asdict(e) for e in got.errors] == [e.model_dump() for e in verdict.errors]
    for name in read.BoardVerdict.__struct_fields__:
        if name != "errors":
            assert getattr(got, name) == getattr(verdict, name), name


def test_a_record_event_the_router_does_not_route_is_passed_over() -> None:
    accepted = written.RecordAccepted(target=written.Target(kind="moc", code="ABOHNS"), correlation_id="c",
                                      provider_id="0008001")
    assert isinstance(read.decode_record_event(accepted.to_bytes()), read.RecordAccepted)


@pytest.mark.parametrize("broken", [
    (b'"RecordSubmitted"', b'"SubmitRecord"'),  # not a record event
    (b'"credits":"6"', b'"credits":"six"'),  # a field of the wrong type
    (b'"completion_date":"2021-11-02"', b'"completion_date":"02/11/2021"'),
    (b'"kind":"moc"', b'"kind":"cme"'),
    (b'"correlation_id"', b'"correlation_idx"'),  # a field missing
])
def test_a_message_the_router_cannot_read_is_refused(broken: tuple[bytes, bytes]) -> None:
    record = learner_record()
    value = written.RecordSubmitted(record=record, correlation_id="c", provider_id="0008001").to_bytes()
    assert broken[0] in value
    with pytest.raises(msgspec.ValidationError):
        read.decode_record_event(value.replace(*broken))
