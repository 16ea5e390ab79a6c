"""The projector's msgspec reading of record events stays a subset of shared.events' models, which write them."""

from typing import get_args
from uuid import uuid4

import msgspec
import pytest
from pydantic import BaseModel

from projector import events as projected
from shared import events as written
from shared.codes import pars_error
from shared.event_views import unwritten_fields

PAIRS: dict[type[written.Envelope], type[projected.RecordEvent]] = {
    written.RecordSubmitted: projected.RecordSubmitted, written.RecordRejectedByPars: projected.RecordRejectedByPars,
    written.RecordAccepted: projected.RecordAccepted, written.RecordRejected: projected.RecordRejected,
    written.DeleteSubmitted: projected.DeleteSubmitted, written.RecordDeleted: projected.RecordDeleted,
}


def test_every_record_event_is_read() -> None:
    union = get_args(get_args(written.RecordEvent)[0])
    assert set(union) == set(PAIRS)
    for model, struct in PAIRS.items():
        assert struct.event_type == model.model_fields["event_type"].default


@pytest.mark.parametrize(("model", "struct"), PAIRS.items(), ids=[m.__name__ for m in PAIRS])
def test_every_field_read_is_one_the_model_writes(model: type[BaseModel], struct: type[msgspec.Struct]) -> None:
    assert unwritten_fields(model, struct, ignore=frozenset({"raw"})) == []


def test_a_message_not_of_the_record_events_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        projected.decode_record_event(b'{"event_type": "SubmitRecord", "event_id": "x"}')
    with pytest.raises(msgspec.ValidationError):  # an event without its ID
        event = written.RecordRejected(target=written.Target(kind="moc", code="ABIM"), response_id=uuid4(),
                                       errors=[pars_error("661")], correlation_id="c", provider_id="0008001")
        projected.decode_record_event(event.to_bytes().replace(b'"event_id"', b'"event_idx"'))
