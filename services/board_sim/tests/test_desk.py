"""A board's desk against in-memory storage: its answer to each request, what it grants and withdraws, when the
answer leaves, and that it answers a repeated request as it did the first time."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from uuid import uuid4

import msgspec
import pytest

from board_sim.faults import BoardCrash
from board_sim.handlers import BoardDesk
from board_sim.judging import Diplomate, Grant
from board_sim.requests import BoardRequest, decode_request
from board_sim.tests.fakes import FakeDeskStore
from shared.boards import BoardFaults, shipped_boards
from shared.consumer import Delivery
from shared.events import BoardVerdict, LearnerRecord, ProcessBoardRequest, Target
from shared.settings import Settings

SETTINGS = Settings(namespace="unit", board_latency_scale=0, database_url="postgresql://unused")
RESPONSES = SETTINGS.topic("pars.board-responses")
HARPER = Diplomate(board_id="19927", first_name="Harper", last_name="Benton", dob="11/11")


def store_with_harper() -> FakeDeskStore:
    return FakeDeskStore(roster={("ABOHNS", "19927"): HARPER})


def request(action: Literal["add", "delete"] = "add", **changes: object) -> BoardRequest:
    fields: dict[str, object] = {
        "record_id": uuid4(), "submission_id": uuid4(), "provider_id": "0008001", "credit_id": "ccid-1",
        "activity_id": "210016865", "first_name": "Harper", "last_name": "Benton", "dob": "11/11",
        "completion_date": date(2021, 11, 2), "target": Target(kind="moc", code="ABOHNS"), "learner_id": "19927",
        "credits": Decimal(6),
    }
    record = LearnerRecord(**(fields | changes))
    sent = ProcessBoardRequest(request_id=uuid4(), action=action, record=record, correlation_id="corr-1",
                               provider_id="0008001", record_id=record.record_id, submission_id=record.submission_id)
    return decode_request(sent.to_bytes())  # as the consumer reads it


def asked_again(first: BoardRequest) -> BoardRequest:
    """The router's retry: the same request (and request id) in a new message."""
    return msgspec.structs.replace(first, event_id=uuid4())


async def answer(store: FakeDeskStore, *requests: BoardRequest, settings: Settings = SETTINGS) -> list[BoardVerdict]:
    """Let the ABOHNS desk answer these requests; the verdicts it sends, in order."""
    before = len(store.outbox)
    await BoardDesk("ABOHNS", store, settings).on_requests([Delivery(q, None) for q in requests])
    assert all(m.topic == RESPONSES for m in store.outbox)
    return [BoardVerdict.model_validate_json(m.value) for m in store.outbox[before:]]


async def test_a_diplomate_on_the_roster_is_accepted_and_granted_the_credit() -> None:
    store, q = store_with_harper(), request()
    [verdict] = await answer(store, q)
    assert (verdict.request_id, verdict.record_id, verdict.board, verdict.action, verdict.accepted, verdict.errors) == (
        q.request_id, q.record_id, "ABOHNS", "add", True, [])
    assert verdict.correlation_id == "corr-1"
    assert store.credits[f"record:{q.record.record_id}"] == (
        "ABOHNS", "19927", "210016865", Grant(date(2021, 11, 2), Decimal(6), q.record.record_id))
    assert store.answers_given == {q.request_id: verdict}
    assert [r.value for r in store.published] == [m.value for m in store.outbox]  # due at once: sent by the desk


async def test_a_board_id_not_on_the_roster_is_rejected_661_and_granted_nothing() -> None:
    store = store_with_harper()
    [verdict] = await answer(store, request(learner_id="99999"))
    assert (verdict.accepted, [e.code for e in verdict.errors]) == (False, ["661"])
    assert store.credits == {}


async def test_the_activity_maximum_counts_what_the_same_batch_granted_before() -> None:
    store = store_with_harper()
    first, second = request(credits=Decimal(6), activity_max_credits=Decimal(8)), request(
        credits=Decimal(6), activity_max_credits=Decimal(8), completion_date=date(2021, 11, 3))
    verdicts = await answer(store, first, second)
    assert [(v.accepted, [e.code for e in v.errors]) for v in verdicts] == [(True, []), (False, ["711"])]


async def test_a_request_asked_again_gets_the_first_answer_again_and_changes_nothing() -> None:
    store, q = store_with_harper(), request()
    [first] = await answer(store, q)
    store.roster.clear()  # had the board judged again, Harper would now be unknown (661)
    [again] = await answer(store, asked_again(q))
    assert again == first
    assert list(store.answers_given) == [q.request_id] and len(store.credits) == 1


async def test_an_accepted_delete_withdraws_the_credit_granted() -> None:
    store, add = store_with_harper(), request()
    await answer(store, add)
    delete = request("delete", record_id=add.record.record_id)
    [verdict] = await answer(store, delete)
    assert (verdict.action, verdict.accepted) == ("delete", True)
    assert store.credits == {}


async def test_an_answer_leaves_after_the_boards_latency_through_the_relay() -> None:
    store = store_with_harper()
    before = datetime.now(UTC)
    await answer(store, request(), settings=SETTINGS.model_copy(update={"board_latency_scale": 1.0}))
    [message] = store.outbox
    assert message.not_before is not None and message.not_before >= before + timedelta(days=1)  # ABOHNS: a day
    assert store.published == []


async def test_a_crash_loses_the_whole_batch_so_it_is_judged_again_when_redelivered() -> None:
    store = store_with_harper()
    store.boards_by_code = {**store.boards_by_code, "ABOHNS": shipped_boards()["ABOHNS"].model_copy(
        update={"faults": BoardFaults(crash=1.0)})}
    with pytest.raises(BoardCrash):
        await answer(store, request())
    assert (store.outbox, store.answers_given, store.credits, store.published) == ([], {}, {}, [])


async def test_a_dropped_answer_is_remembered_though_never_sent() -> None:
    store, q = store_with_harper(), request()
    store.boards_by_code = {**store.boards_by_code, "ABOHNS": shipped_boards()["ABOHNS"].model_copy(
        update={"faults": BoardFaults(drop=1.0)})}
    assert await answer(store, q) == []
    assert store.answers_given[q.request_id].accepted  # asked again, the board repeats it
