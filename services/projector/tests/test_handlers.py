"""The projector's handlers against in-memory storage (tests/fakes.py): batches, redeliveries, failures. The fold
itself is test_folding.py's; the SQL is the integration tests'."""

import json
from datetime import date

import pytest

from projector.handlers import ActivityProjector, Projector
from projector.tests.fakes import FakeProjection
from projector.tests.test_folding import (
    RECORD_ID,
    accepted,
    decoded,
    delete_submitted,
    deleted,
    rejected,
    rejected_by_pars,
    submitted,
)
from shared.consumer import Delivery
from shared.events import ActivityRegistered, Envelope, RecordAccepted, Target
from shared.world import Activity


async def project(store: FakeProjection, *events: Envelope) -> None:
    await Projector(store).on_record_events([Delivery(decoded(e), None) for e in events])


async def test_a_batch_makes_the_row_and_the_timeline() -> None:
    store = FakeProjection()
    first, verdict = submitted(0), accepted(5)
    await project(store, first, verdict)
    g = store.active_generation
    row = g.records[RECORD_ID]
    assert row["status"] == "Accepted" and row["errors"] == [] and not row["deleted"]
    assert row["updated_at"] == verdict.occurred_at and row["submitted_at"] == first.occurred_at
    assert list(g.timeline) == [first.event_id, verdict.event_id]


async def test_later_batches_patch_the_row() -> None:
    store = FakeProjection()
    await project(store, submitted(0))
    await project(store, rejected(5, "661"))
    assert store.active_generation.records[RECORD_ID]["errors"][0]["code"] == "661"
    await project(store, accepted(10))
    await project(store, delete_submitted(15), deleted(20))
    row = store.active_generation.records[RECORD_ID]
    assert row["status"] == "Delete Submitted" and row["deleted"] and row["errors"] == []


async def test_a_redelivered_batch_changes_nothing() -> None:
    store = FakeProjection()
    first = (submitted(0), rejected(5, "661"))
    await project(store, *first)
    await project(store, accepted(10))
    await project(store, *first)  # the consumer's offsets were not committed: the log comes again
    row = store.active_generation.records[RECORD_ID]
    assert row["status"] == "Accepted" and row["errors"] == []
    assert len(store.active_generation.timeline) == 3


async def test_a_pars_rejection_leaves_a_rejection_and_no_record() -> None:
    store = FakeProjection()
    await project(store, rejected_by_pars(0))
    g = store.active_generation
    assert g.records == {} and list(g.rejections) == [RECORD_ID]
    assert [e["code"] for e in json.loads(bytes(g.rejections[RECORD_ID].errors))] == ["630"]


async def test_events_without_a_record_open_no_transaction() -> None:
    store = FakeProjection()
    await project(store, RecordAccepted(target=Target(kind="moc", code="ABOHNS"), correlation_id="c",
                                        provider_id="0008001"))
    assert store.transactions == 0 and store.active_generation.timeline == {}


async def test_a_failed_batch_keeps_nothing_and_applies_in_full_when_redelivered() -> None:
    store = FakeProjection(fail_on_rejections=True)
    events = (submitted(0), accepted(5))
    with pytest.raises(ConnectionError):
        await project(store, *events)
    assert store.active_generation.timeline == {} and store.active_generation.records == {}
    store.fail_on_rejections = False
    await project(store, *events)
    assert store.active_generation.records[RECORD_ID]["status"] == "Accepted"


def registered(title: str) -> Delivery[ActivityRegistered]:
    activity = Activity(id="210016865", provider_id="0008001", title=title, start_date=date(2021, 10, 15),
                        end_date=date(2021, 11, 15))
    return Delivery(ActivityRegistered(activity=activity, correlation_id="c", provider_id="0008001"), None)


async def test_the_latest_registration_of_an_activity_wins() -> None:
    store = FakeProjection()
    await ActivityProjector(store).on_activities([registered("First"), registered("Second")])
    await ActivityProjector(store).on_activities([registered("Third")])
    assert [a.title for a in store.activities.values()] == ["Third"]
