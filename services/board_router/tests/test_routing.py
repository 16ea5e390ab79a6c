"""Routing decisions: request ids, request keys, verdict events and answer deadlines."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from board_router.routing import ANSWER_GRACE, answer_due, board_request, learner_key, request_id, verdict_event
from shared.boards import shipped_boards
from shared.codes import pars_error
from shared.events import (
    BoardVerdict,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    Target,
)

RECORD_ID = UUID("0f8e9a34-55c1-4b0e-9d6b-0d0c1d3b7a10")


def learner_record(**changes: object) -> LearnerRecord:
    fields: dict[str, object] = {
        "record_id": RECORD_ID, "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": Target(kind="moc", code="ABOHNS"), "learner_id": "19927",
        "credits": Decimal(6),
    }
    return LearnerRecord(**(fields | changes))


def verdict(action: str, accepted: bool, *codes: str, event_id: UUID | None = None) -> BoardVerdict:
    return BoardVerdict(
        event_id=event_id or uuid4(), request_id=request_id(RECORD_ID, action), board="ABOHNS",
        action=action, accepted=accepted, errors=[pars_error(c) for c in codes],
        record_id=RECORD_ID, provider_id="0008001", correlation_id="board-corr",
    )


# request ids ----------------------------------------------------------------------------------------


def test_request_id_is_stable_for_the_same_record_and_action() -> None:
    assert request_id(RECORD_ID, "add") == request_id(RECORD_ID, "add")
    assert request_id(RECORD_ID, "delete") == request_id(UUID(str(RECORD_ID)), "delete")


def test_request_id_differs_between_add_and_delete_and_between_records() -> None:
    ids = {request_id(RECORD_ID, "add"), request_id(RECORD_ID, "delete"), request_id(uuid4(), "add")}
    assert len(ids) == 3


def test_board_request_carries_the_stable_request_id() -> None:
    record = learner_record()
    request = board_request(record, "delete", "corr-1")
    assert request.request_id == request_id(RECORD_ID, "delete")
    assert request.action == "delete"
    assert request.record == record
    assert (request.record_id, request.submission_id, request.provider_id) == (
        RECORD_ID, record.submission_id, "0008001")
    assert request.correlation_id == "corr-1"
    assert board_request(record, "delete", "corr-1").request_id == request.request_id


# learner keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "19927"),
        ({"learner_id": " 19927 "}, "19927"),
        ({"learner_id": None}, "benton|harper|11/11"),
        ({"learner_id": ""}, "benton|harper|11/11"),
        ({"learner_id": None, "first_name": " HARPER ", "last_name": "Benton-Smith "}, "benton-smith|harper|11/11"),
        ({"learner_id": None, "dob": None}, "benton|harper|"),
    ],
)
def test_learner_key(changes: dict[str, object], key: str) -> None:
    assert learner_key(learner_record(**changes)) == key


# verdict events ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "accepted", "event_type"),
    [
        ("add", True, RecordAccepted),
        ("add", False, RecordRejected),
        ("delete", True, RecordDeleted),
        ("delete", False, RecordAccepted),  # a refused delete leaves the record accepted
    ],
)
def test_verdict_event_type(action: str, accepted: bool, event_type: type) -> None:
    target = learner_record()
    v = verdict(action, accepted, *([] if accepted else ["661"]))
    event = verdict_event(v, target, "corr-1")
    assert type(event) is event_type
    assert event.record_id == RECORD_ID
    assert event.provider_id == "0008001"
    assert event.submission_id == target.submission_id
    assert event.correlation_id == "corr-1"
    assert isinstance(event, RecordAccepted | RecordRejected | RecordDeleted)
    assert event.target == target.target
    assert event.response_id == v.event_id


def test_a_rejected_add_carries_the_boards_errors() -> None:
    event = verdict_event(verdict("add", False, "664", "665"), learner_record(), "corr-1")
    assert isinstance(event, RecordRejected)
    assert [(e.code, e.message) for e in event.errors] == [
        ("664", "Diplomate date of birth does not match Board record for this diplomate ID."),
        ("665", "Diplomate name does not batch Board record."),
    ]


def test_verdict_event_id_derives_from_the_verdict() -> None:
    target = learner_record()
    v = verdict("add", True)
    first = verdict_event(v, target, "corr-1")
    again = verdict_event(v.model_copy(), target, "other-corr")
    replayed = verdict_event(BoardVerdict.model_validate_json(v.to_bytes()), target, "corr-1")
    assert first.event_id == again.event_id == replayed.event_id
    assert first.event_id != v.event_id
    assert verdict_event(verdict("add", True), target, "corr-1").event_id != first.event_id


# answer deadlines -------------------------------------------------------------------------------------


NOW = datetime(2022, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("latency", "scale", "due"),
    [
        (86400.0, 1.0, NOW + timedelta(days=1, seconds=30)),
        (86400.0, 0.0, NOW + timedelta(seconds=30)),
        (86400.0, 0.001, NOW + timedelta(seconds=86.4 + 30)),
        (60.0, 2.0, NOW + timedelta(seconds=150)),
    ],
)
def test_answer_due(latency: float, scale: float, due: datetime) -> None:
    board = shipped_boards()["ABOHNS"].model_copy(update={"latency_seconds": latency})
    assert answer_due(board, scale, NOW) == due


def test_answer_grace_is_thirty_seconds() -> None:
    assert timedelta(seconds=30) == ANSWER_GRACE
