"""validation's handlers against in-memory storage (tests/fakes.py): the batch's flow, not the rules (test_rules.py)."""

from datetime import date
from uuid import uuid4

import msgspec
import pytest

from shared.codes import pars_error
from shared.consumer import Delivery
from shared.events import (
    DeleteSubmitted,
    Envelope,
    LearnerRecord,
    RecordAccepted,
    RecordDeleted,
    RecordRejected,
    RecordRejectedByPars,
    RecordSubmitted,
    SubmitRecord,
    Target,
    record_event_adapter,
)
from shared.lifecycle import KEPT_STATUS_AFTER, RecordStatus
from validation.handlers import StatusTracker, SubmissionHandler
from validation.lookups import live_key
from validation.ports import LiveRecord
from validation.status_events import MovesStatus, decode_status_event
from validation.submissions import UnreadableSubmission
from validation.tests.fakes import FakeValidationStore
from validation.tests.test_rules import ACTIVITY_ID, IN_YEAR, TODAY, activity, live_record, record, submit

TOPIC = "pars.record-events"


def store(*, fail_on_enqueue: bool = False) -> FakeValidationStore:
    return FakeValidationStore(activities_by_id={ACTIVITY_ID: activity()}, fail_on_enqueue=fail_on_enqueue)


def handler(s: FakeValidationStore, today: date = TODAY) -> SubmissionHandler:
    return SubmissionHandler(s, TOPIC, today=lambda: today)


async def handle(h: SubmissionHandler, *commands: SubmitRecord) -> None:
    await h([Delivery(c, None) for c in commands])


def published(s: FakeValidationStore) -> list[Envelope]:
    return [record_event_adapter.validate_json(m.value) for m in s.published]


def holding(s: FakeValidationStore, r: LearnerRecord, status: RecordStatus) -> None:
    s.live[(r.provider_id, r.credit_id, r.target.code)] = LiveRecord(r, status)


async def test_an_add_for_a_board_is_kept_as_submitted_and_its_event_published() -> None:
    s = store()
    r = record()
    await handle(handler(s), submit(r))
    [event] = published(s)
    assert isinstance(event, RecordSubmitted) and event.record_id == r.record_id and event.needs_board
    assert s.published[0].topic == TOPIC and s.published[0].key == str(r.record_id).encode()
    assert s.live[live_key(r)].status == RecordStatus.SUBMITTED
    assert s.live[live_key(r)].record.record_id == r.record_id


async def test_an_add_no_board_processes_is_accepted_at_once() -> None:
    s = store()
    r = record("OPIOID")
    await handle(handler(s), submit(r))
    assert tuple(type(e) for e in published(s)) == (RecordSubmitted, RecordAccepted)
    assert s.live[live_key(r)].status == RecordStatus.ACCEPTED


async def test_a_record_sees_what_the_one_before_it_in_the_batch_kept() -> None:
    s = store()
    first, second = record(), record()  # the same credit ID
    await handle(handler(s), submit(first), submit(second))
    kept, refused = published(s)
    assert isinstance(kept, RecordSubmitted) and kept.record_id == first.record_id
    assert isinstance(refused, RecordRejectedByPars) and [e.code for e in refused.errors] == ["603"]
    assert s.live[live_key(first)].record.record_id == first.record_id


async def test_a_command_handled_before_changes_nothing() -> None:
    s = store()
    h, command = handler(s), submit(record())
    await handle(h, command)
    await handle(h, command)
    assert len(s.published) == 1 and len(s.live) == 1


async def test_an_unreadable_submission_is_answered_with_999() -> None:
    s = store()
    r = record()
    broken = UnreadableSubmission(**submit(r).model_dump(), reason="record.credits: not a number")
    await handle(handler(s), broken)
    [event] = published(s)
    assert isinstance(event, RecordRejectedByPars) and [e.code for e in event.errors] == ["999"]
    assert s.live == {}


async def test_a_delete_of_an_accepted_record_goes_to_its_board_and_marks_it() -> None:
    s = store()
    live = live_record()
    holding(s, live, RecordStatus.ACCEPTED)
    delete = record(action="Delete")
    await handle(handler(s, today=IN_YEAR), submit(delete))
    [event] = published(s)
    assert isinstance(event, DeleteSubmitted) and event.record_id == live.record_id
    assert event.reported_as == delete.record_id
    assert s.live[live_key(delete)].status == RecordStatus.DELETE_SUBMITTED


async def test_a_delete_of_a_rejected_record_frees_its_credit_id_at_once() -> None:
    s = store()
    live = live_record()
    holding(s, live, RecordStatus.REJECTED)
    await handle(handler(s, today=IN_YEAR), submit(record(action="Delete")))
    [event] = published(s)
    assert isinstance(event, RecordDeleted) and event.record_id == live.record_id
    assert s.live == {}


@pytest.mark.parametrize("status", [RecordStatus.SUBMITTED, RecordStatus.DELETE_SUBMITTED])
async def test_a_record_with_its_board_stays_live(status: RecordStatus) -> None:
    s = store()
    live = live_record()
    holding(s, live, status)
    await handle(handler(s, today=IN_YEAR), submit(record(action="Delete")))
    [event] = published(s)
    assert isinstance(event, RecordRejectedByPars) and [e.code for e in event.errors] == ["998"]
    assert [held.status for held in s.live.values()] == [status]


async def test_a_failed_transaction_keeps_and_publishes_nothing() -> None:
    s = store(fail_on_enqueue=True)
    command = submit(record())
    with pytest.raises(ConnectionError):
        await handle(handler(s), command)
    assert s.live == {} and s.published == [] and s.handled == set()
    s.fail_on_enqueue = False  # redelivered: handled as if for the first time
    await handle(handler(s), command)
    assert len(s.published) == 1 and len(s.live) == 1


async def test_the_dry_run_decides_in_order_and_keeps_nothing() -> None:
    s = store()
    first, second = record(), record()
    decisions = await handler(s).check_only([submit(first), submit(second)])
    assert [type(d.events[0]) for d in decisions] == [RecordSubmitted, RecordRejectedByPars]
    assert decisions[0].keep_status == RecordStatus.SUBMITTED
    assert s.live == {} and s.published == [] and s.handled == set()


def verdict_event(kind: type[Envelope], record_id: object) -> Envelope:
    fields: dict[str, object] = {"record_id": record_id, "correlation_id": "c", "provider_id": "0008001",
                                 "target": Target(kind="moc", code="ABOHNS")}
    if kind is RecordRejected:
        fields |= {"response_id": uuid4(), "errors": [pars_error("664")]}
    return kind.model_validate(fields)


def verdict(kind: type[Envelope], record_id: object) -> Delivery[MovesStatus]:
    """The event as it comes off pars.record-events: shared.events' JSON, decoded as the tracker's consumer does."""
    return Delivery(decode_status_event(verdict_event(kind, record_id).to_bytes()), None)


async def test_the_status_tracker_moves_live_records_as_the_record_events_say() -> None:
    s = store()
    a, b, c, d = (live_record(credit_id=f"c{n}") for n in range(4))
    for held in (a, b, c, d):
        holding(s, held, RecordStatus.SUBMITTED)
    await StatusTracker(s)([verdict(RecordAccepted, a.record_id), verdict(RecordRejected, b.record_id),
                            verdict(RecordAccepted, c.record_id), verdict(DeleteSubmitted, c.record_id),
                            verdict(RecordDeleted, d.record_id)])
    assert {held.record.credit_id: held.status for held in s.live.values()} == {
        "c0": RecordStatus.ACCEPTED, "c1": RecordStatus.REJECTED, "c2": RecordStatus.DELETE_SUBMITTED}


def test_the_status_tracker_reads_the_events_that_move_a_kept_record() -> None:
    assert {e.model_fields["event_type"].default for e in StatusTracker.EVENTS} == set(KEPT_STATUS_AFTER)
    record_id = uuid4()
    assert [(d.message.event_type, d.message.record_id) for d in (verdict(kind, record_id) for kind in (
        RecordAccepted, RecordRejected, DeleteSubmitted, RecordDeleted))] == [
        (kind, record_id) for kind in KEPT_STATUS_AFTER]


def test_an_event_the_status_tracker_does_not_read_fails_to_decode_and_is_dead_lettered() -> None:
    submitted = RecordSubmitted(correlation_id="c", provider_id="0008001", record=live_record())
    with pytest.raises(msgspec.ValidationError):
        decode_status_event(submitted.to_bytes())
    accepted = verdict_event(RecordAccepted, uuid4())
    with pytest.raises(msgspec.ValidationError):  # a record ID that is no UUID
        decode_status_event(accepted.to_bytes().replace(str(accepted.record_id).encode(), b"x"))
