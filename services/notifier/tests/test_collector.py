"""RejectionCollector and ActivityListener against in-memory storage: which rejections a digest will hold, with
what its lines show, and the activity titles it names."""

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from notifier.events import Event, decode_record_event
from notifier.handlers import ActivityListener, RejectionCollector
from notifier.rejections import SubmittedDetails
from notifier.tests.fakes import FakeNotifierStore
from shared import events
from shared.codes import pars_error
from shared.consumer import Delivery
from shared.world import Activity

PROVIDER = "0008001"
ABIM = events.Target(kind="moc", code="ABIM")


def envelope(record_id: uuid.UUID, provider: str = PROVIDER) -> dict[str, Any]:
    return {"provider_id": provider, "correlation_id": "req-1", "record_id": record_id,
            "occurred_at": datetime(2026, 11, 2, 9, 30, tzinfo=UTC)}


def rejected_by_board(record_id: uuid.UUID) -> events.RecordRejected:
    """As the router writes it, with the record as a digest line shows it."""
    shown = events.RejectedRecord(activity_id="210000001", first_name="Harper", last_name="Benton",
                                  completion_date=date(2026, 11, 2), learner_id="100001")
    return events.RecordRejected(target=ABIM, response_id=uuid.uuid4(), errors=[pars_error("661")], record=shown,
                                 **envelope(record_id))


def rejected_by_an_older_router(record_id: uuid.UUID) -> events.RecordRejected:
    """A board's rejection as routers wrote it before 2026-12-03: the record named, not described."""
    return rejected_by_board(record_id).model_copy(update={"record": None})


def rejected_by_pars(channel: Literal["api", "batch", "ws"], provider: str = PROVIDER) -> events.RecordRejectedByPars:
    record_id = uuid.uuid4()
    record = events.ReportedRecord(record_id=record_id, submission_id=uuid.uuid4(), provider_id=provider, target=ABIM,
                                   channel=channel, activity_id="210000002", first_name="Ada", last_name="Lovelace",
                                   learner_id="7", completion_date="2026-11-01")
    return events.RecordRejectedByPars(record=record, errors=[pars_error("690")], **envelope(record_id, provider))


def deliveries(*sent: events.Envelope) -> list[Delivery[Event]]:
    # The notifier's own reading of each event, as its consumer decodes it; the Kafka record is never looked at.
    return [Delivery(decode_record_event(e.to_bytes()), None) for e in sent]


async def test_a_board_rejection_is_kept_with_the_record_it_describes_and_no_submission_is_kept() -> None:
    store, record_id = FakeNotifierStore(), uuid.uuid4()
    rejection = rejected_by_board(record_id)
    await RejectionCollector(store).on_record_events(deliveries(rejection))
    kept = store.rejections[rejection.event_id]
    assert (kept.provider_id, kept.record_id, kept.board, [e["code"] for e in kept.errors]) == (
        PROVIDER, record_id, "ABIM", ["661"])
    assert (kept.activity_id, kept.first_name, kept.last_name, kept.learner_id, kept.completion_date) == (
        "210000001", "Harper", "Benton", "100001", "2026-11-02")
    assert store.records == {}


async def test_an_older_routers_rejection_is_kept_with_the_details_kept_of_its_submission() -> None:
    store, record_id = FakeNotifierStore(), uuid.uuid4()
    store.records[record_id] = SubmittedDetails("210000009", "Ann", "Lee", "L1", "2026-11-03")  # kept back then
    rejection = rejected_by_an_older_router(record_id)
    await RejectionCollector(store).on_record_events(deliveries(rejection))
    kept = store.rejections[rejection.event_id]
    assert (kept.activity_id, kept.first_name, kept.last_name, kept.learner_id, kept.completion_date) == (
        "210000009", "Ann", "Lee", "L1", "2026-11-03")


async def test_an_older_routers_rejection_of_a_record_never_seen_is_kept_without_its_details() -> None:
    store, record_id = FakeNotifierStore(), uuid.uuid4()
    await RejectionCollector(store).on_record_events(deliveries(rejected_by_an_older_router(record_id)))
    [kept] = store.rejections.values()
    assert (kept.record_id, kept.activity_id, kept.first_name) == (record_id, None, None)


async def test_an_event_delivered_twice_is_kept_once() -> None:
    store, record_id = FakeNotifierStore(), uuid.uuid4()
    rejection = rejected_by_board(record_id)
    collector = RejectionCollector(store)
    await collector.on_record_events(deliveries(rejection, rejection))
    await collector.on_record_events(deliveries(rejection))
    assert list(store.rejections) == [rejection.event_id]


async def test_pars_rejections_reach_only_providers_who_asked_and_only_for_batch_and_web_service_records() -> None:
    store = FakeNotifierStore(opted_in_providers={"0008002"})
    wanted = [rejected_by_pars("batch", "0008002"), rejected_by_pars("ws", "0008002")]
    unwanted = [rejected_by_pars("api", "0008002"), rejected_by_pars("batch", "0008001")]
    await RejectionCollector(store).on_record_events(deliveries(*wanted, *unwanted))
    assert set(store.rejections) == {e.event_id for e in wanted}
    kept = store.rejections[wanted[0].event_id]
    assert (kept.activity_id, kept.first_name, kept.learner_id, [e["code"] for e in kept.errors]) == (
        "210000002", "Ada", "7", ["690"])


async def test_an_activity_registered_through_the_api_gives_its_title_and_the_latest_one_wins() -> None:
    store = FakeNotifierStore()
    first, renamed = (Activity(id="310000001", provider_id=PROVIDER, title=title, start_date=date(2026, 1, 5),
                               end_date=date(2026, 12, 31)) for title in ("Airway", "Airway update"))
    batch = [Delivery(events.ActivityRegistered(activity=a, correlation_id="req-2", provider_id=PROVIDER), None)
             for a in (first, renamed)]
    await ActivityListener(store).on_activities(batch)
    assert store.titles == {"310000001": "Airway update"}
