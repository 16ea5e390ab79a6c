"""`?wait=true` callers' waiters: which pars.record-events messages are decoded for them, and what they answer."""

from collections.abc import Iterator
from uuid import UUID, uuid4

from aiokafka import ConsumerRecord

from intake.completions.schemas import Completion
from intake.submitting.completions import split_into_records
from intake.waiters import Waiters
from shared.codes import pars_error
from shared.events import DeleteSubmitted, Envelope, RecordAccepted, RecordRejectedByPars, ReportedRecord, Target
from shared.events import record_event_adapter as events
from shared.outbox import event_message

TOPIC = "pars.record-events"
BODY = {"activity_id": "210016865", "credit_id": "ccid-1", "first_name": "Harper", "last_name": "Benton",
        "dob": "11/11", "completion_date": "2021-11-02",
        "moc": [{"board": "ABOHNS", "board_id": "19927", "credits": 8, "credit_types": {"Self-Assessment": 8}}]}


def reported() -> ReportedRecord:
    return split_into_records(Completion.model_validate(BODY), "0008001", uuid4())[0]


def consumed(event: Envelope, key: str | None = None) -> ConsumerRecord:
    """The event as intake's consumer gets it: keyed and with headers as the outbox publishes it."""
    message = event_message(TOPIC, event, key or str(event.record_id))
    return ConsumerRecord(TOPIC, 0, 0, 0, 0, message.key, message.value, None, 0, 0,
                          [(name, value.encode()) for name, value in message.headers.items()])


class FirstOnly(list[tuple[str, bytes]]):
    """Headers that fail the test when anything reads more than the first."""

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        raise AssertionError("headers scanned")

    def __getitem__(self, index: object) -> tuple[str, bytes]:  # type: ignore[override]
        assert index == 0, "a header but the first read"
        return super().__getitem__(0)


def rejected(record: ReportedRecord) -> RecordRejectedByPars:
    return RecordRejectedByPars(record_id=record.record_id, record=record, errors=[pars_error("622")],
                                correlation_id="c", provider_id=record.provider_id)


def delete_submitted(deleted: UUID, reported_as: UUID) -> DeleteSubmitted:
    return DeleteSubmitted(record_id=deleted, reported_as=reported_as, target=Target(kind="moc", code="ABOHNS"),
                           correlation_id="c", provider_id="0008001")


async def test_an_outcome_of_an_awaited_record_answers_its_caller() -> None:
    waiters, record = Waiters(), reported()
    [future] = waiters.expect([record.record_id])
    message = consumed(rejected(record))
    assert waiters.may_answer(message)
    waiters.offer(events.validate_json(message.value))
    assert future.result().status == "Rejected by PARS"
    assert [e["code"] for e in future.result().errors] == ["622"]


async def test_other_records_messages_are_passed_over_on_their_key_without_reading_headers() -> None:
    waiters = Waiters()
    waiters.expect([uuid4()])
    message = consumed(rejected(reported()))
    # Another record's event: its key is not awaited, and an Add's outcome is keyed by its record: only the first
    # header (the event type, where the outbox puts it) is looked at, to rule out a Delete's outcome.
    message.headers = FirstOnly(message.headers)
    assert not waiters.may_answer(message)


async def test_an_awaited_records_other_events_are_not_decoded() -> None:
    waiters, record = Waiters(), reported()
    waiters.expect([record.record_id])
    accepted = RecordAccepted(record_id=record.record_id, target=record.target, correlation_id="c",
                              provider_id=record.provider_id)
    assert not waiters.may_answer(consumed(accepted))  # a board's verdict: not what a caller waits for


async def test_a_deletes_outcome_keyed_by_the_deleted_record_answers_the_deletes_caller() -> None:
    waiters, delete_id, live_id = Waiters(), uuid4(), uuid4()
    [future] = waiters.expect([delete_id])
    message = consumed(delete_submitted(live_id, delete_id))
    assert message.key == str(live_id).encode()  # keyed by the record deleted, which the caller does not know
    assert waiters.may_answer(message)
    waiters.offer(events.validate_json(message.value))
    assert future.result().status == "Delete Submitted"
    assert future.result().record_id == delete_id


async def test_forgotten_records_are_no_longer_awaited() -> None:
    waiters, record = Waiters(), reported()
    waiters.expect([record.record_id])
    waiters.forget([record.record_id])
    assert not waiters.waiting
    assert not waiters.may_answer(consumed(rejected(record)))


async def test_an_unkeyed_message_is_told_by_its_event_type_header() -> None:
    waiters, record = Waiters(), reported()
    [future] = waiters.expect([record.record_id])
    message = consumed(rejected(record))
    message.key = None
    assert waiters.may_answer(message)
    waiters.offer(events.validate_json(message.value))
    assert future.done()
