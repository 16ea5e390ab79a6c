"""The Router against in-memory storage: what it asks the boards, what a verdict appends, when it asks again."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from uuid import UUID, uuid4

import pytest

from board_router.events import BoardVerdict as Verdict
from board_router.events import RecordEvent, decode_record_event, decode_verdict
from board_router.handlers import Router
from board_router.routing import request_id
from board_router.tests.fakes import FakeRouterStore
from shared.codes import pars_error
from shared.consumer import Delivery
from shared.events import (
    BoardVerdict,
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    ProcessBoardRequest,
    RecordAccepted,
    RecordRejected,
    RecordSubmitted,
    Target,
    record_event_adapter,
)
from shared.settings import Settings

SETTINGS = Settings(namespace="unit", board_latency_scale=0, database_url="postgresql://unused")
GRACE = timedelta(seconds=SETTINGS.board_answer_grace_seconds)
ABOHNS_REQUESTS = SETTINGS.topic("pars.board.ABOHNS.requests")


def learner_record(board: str = "ABOHNS", learner_id: str | None = "19927") -> LearnerRecord:
    return LearnerRecord(
        record_id=uuid4(), submission_id=uuid4(), provider_id="0008001", credit_id="ccid-1", activity_id="210016865",
        first_name="Harper", last_name="Benton", dob="11/11", completion_date=date(2021, 11, 2),
        target=Target(kind="moc", code=board), learner_id=learner_id, credits=Decimal(6))


def submitted(record: LearnerRecord, needs_board: bool = True) -> RecordSubmitted:
    return RecordSubmitted(record=record, needs_board=needs_board, correlation_id="corr-submit",
                           provider_id=record.provider_id, record_id=record.record_id)


def deleted(record: LearnerRecord) -> DeleteSubmitted:
    return DeleteSubmitted(correlation_id="corr-delete", provider_id=record.provider_id, record_id=record.record_id,
                           target=record.target)


def verdict(record: LearnerRecord, action: Literal["add", "delete"], *codes: str) -> BoardVerdict:
    return BoardVerdict(
        request_id=request_id(record.record_id, action), board=record.target.code, action=action,
        accepted=not codes, errors=[pars_error(c) for c in codes], record_id=record.record_id,
        provider_id=record.provider_id, correlation_id="corr-board")


def batch(*events: Envelope) -> list[Delivery[RecordEvent]]:
    """Record events as the consumer hands them over: sent as the models write them, read by the router."""
    return [Delivery(decode_record_event(e.to_bytes()), None) for e in events]


def answers(*verdicts: BoardVerdict) -> list[Delivery[Verdict]]:
    return [Delivery(decode_verdict(v.to_bytes()), None) for v in verdicts]


def requests_sent(store: FakeRouterStore) -> list[ProcessBoardRequest]:
    assert all(m.topic == ABOHNS_REQUESTS for m in store.outbox)
    return [ProcessBoardRequest.model_validate_json(m.value) for m in store.outbox]


def record_events(store: FakeRouterStore) -> list[Envelope]:
    assert all(m.topic == SETTINGS.topic("pars.record-events") for m in store.outbox)
    return [record_event_adapter.validate_json(m.value) for m in store.outbox]


async def routed(store: FakeRouterStore, *records: LearnerRecord) -> Router:
    router = Router(store, SETTINGS)
    await router.on_record_events(batch(*(submitted(r) for r in records)))
    return router


async def test_a_submitted_record_is_asked_of_its_board_keyed_by_learner_and_published_after_the_commit() -> None:
    store, record = FakeRouterStore(), learner_record()
    before = datetime.now(UTC)
    await routed(store, record)
    [request] = requests_sent(store)
    assert (request.request_id, request.action, request.record, request.correlation_id) == (
        request_id(record.record_id, "add"), "add", record, "corr-submit")
    assert store.outbox[0].key == b"19927"
    assert [r.value for r in store.published] == [m.value for m in store.outbox]
    row = store.sent[request.request_id]
    assert (row.record_id, row.board, row.settled) == (record.record_id, "ABOHNS", False)
    assert before + GRACE <= row.answer_due <= datetime.now(UTC) + GRACE  # latency scale 0: the grace alone


async def test_a_record_that_needs_no_board_is_not_routed() -> None:
    store = FakeRouterStore()
    await Router(store, SETTINGS).on_record_events(batch(submitted(learner_record(), needs_board=False)))
    assert (store.outbox, store.sent, store.routed) == ([], {}, {})


async def test_a_submission_delivered_again_asks_the_board_once() -> None:
    store, record = FakeRouterStore(), learner_record()
    event = submitted(record)
    router = Router(store, SETTINGS)
    await router.on_record_events(batch(event, event))
    await router.on_record_events(batch(event))
    assert len(requests_sent(store)) == 1


async def test_a_submission_delivered_again_after_its_board_answered_asks_nothing() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    await router.on_verdicts(answers(verdict(record, "add")))
    store.outbox.clear()
    await router.on_record_events(batch(submitted(record)))  # its claim is its request: open or settled, it stays
    assert store.outbox == []


async def test_a_delete_asks_the_board_to_withdraw_the_record_it_was_sent() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    await router.on_record_events(batch(deleted(record)))
    add, delete = requests_sent(store)
    assert (delete.action, delete.request_id, delete.record) == ("delete", request_id(record.record_id, "delete"),
                                                                 record)
    assert add.request_id != delete.request_id


async def test_a_delete_of_a_record_never_routed_fails_the_batch_and_keeps_nothing_of_it() -> None:
    store, known, unknown = FakeRouterStore(), learner_record(), learner_record()
    with pytest.raises(LookupError):
        await Router(store, SETTINGS).on_record_events(batch(submitted(known), deleted(unknown)))
    assert (store.outbox, store.sent, store.routed, store.published) == ([], {}, {}, [])


async def test_a_rejecting_verdict_settles_its_request_and_appends_the_rejection_once() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    store.outbox.clear()
    answer = verdict(record, "add", "661")
    await router.on_verdicts(answers(answer, answer))
    await router.on_verdicts(answers(answer))  # a repeated verdict changes nothing
    [event] = record_events(store)
    assert isinstance(event, RecordRejected)
    assert (event.record_id, event.response_id, event.correlation_id, [e.code for e in event.errors]) == (
        record.record_id, answer.event_id, "corr-submit", ["661"])
    row = store.sent[answer.request_id]
    assert (row.settled, row.verdict_id) == (True, answer.event_id)


async def test_a_second_verdict_for_a_settled_request_is_ignored_even_on_replay() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    store.outbox.clear()
    first, second = verdict(record, "add"), verdict(record, "add", "661")
    await router.on_verdicts(answers(first))
    await router.on_verdicts(answers(second), replay=True)
    [event] = record_events(store)
    assert isinstance(event, RecordAccepted)
    assert store.sent[first.request_id].verdict_id == first.event_id


async def test_of_two_verdicts_for_an_open_request_in_one_batch_the_first_settles_it() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    store.outbox.clear()
    first, second = verdict(record, "add", "661"), verdict(record, "add")
    await router.on_verdicts(answers(first, second, first))
    [event] = record_events(store)
    assert isinstance(event, RecordRejected)
    assert store.sent[first.request_id].verdict_id == first.event_id


async def test_a_replay_appends_the_settled_verdicts_event_again_with_the_same_id() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    store.outbox.clear()
    answer = verdict(record, "add")
    await router.on_verdicts(answers(answer))
    await router.on_verdicts(answers(answer), replay=True)
    first, again = record_events(store)
    assert isinstance(first, RecordAccepted)
    assert again == first


async def test_a_late_board_is_asked_again_with_the_same_request_and_a_new_answer_time() -> None:
    store, late, on_time = FakeRouterStore(), learner_record(), learner_record(learner_id="4242")
    router = await routed(store, late, on_time)
    late_id: UUID = request_id(late.record_id, "add")
    store.sent[late_id].answer_due = datetime.now(UTC) - timedelta(seconds=1)
    store.outbox.clear()
    assert await router.ask_again() == 1
    [again] = requests_sent(store)
    assert (again.request_id, again.action, again.correlation_id) == (late_id, "add", "corr-submit")
    assert store.sent[late_id].attempts == 2 and store.sent[late_id].answer_due > datetime.now(UTC)
    assert store.sent[request_id(on_time.record_id, "add")].attempts == 1
    assert await router.ask_again() == 0  # no longer late


async def test_a_settled_request_is_never_asked_again() -> None:
    store, record = FakeRouterStore(), learner_record()
    router = await routed(store, record)
    await router.on_verdicts(answers(verdict(record, "add")))
    store.sent[request_id(record.record_id, "add")].answer_due = datetime.now(UTC) - timedelta(seconds=1)
    assert await router.ask_again() == 0
