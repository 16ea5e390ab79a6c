"""Turns one completion into one reported record per target, and publishes them to pars.submissions."""

import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
from faststream.kafka import KafkaBroker

from intake.completions.schemas import Completion, RecordAnswer
from intake.validation_client import check_records
from intake.waiters import Waiters
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, SubmitRecord, Target
from shared.outbox import OutboxMessage
from shared.settings import Settings
from shared.states import state_code
from shared.topics import SUBMISSIONS


def _text(value: Decimal | str | None) -> str | None:
    return None if value is None else str(value)


def split_into_records(completion: Completion, provider_id: str, submission_id: UUID) -> list[ReportedRecord]:
    credit_id = completion.credit_id or f"ccid:pars-{provider_id}:{submission_id}"
    common = {
        "submission_id": submission_id, "provider_id": provider_id, "channel": "api", "action": completion.action,
        "credit_id": credit_id, "activity_id": completion.activity_id, "first_name": completion.first_name,
        "last_name": completion.last_name, "dob": completion.dob, "npi": completion.npi,
        "medical_school": completion.medical_school, "completion_date": completion.completion_date,
    }
    records = []
    if completion.cme is not None:
        records.append(ReportedRecord(
            record_id=uuid4(), target=Target(kind="state", code=state_code(completion.cme.state) or
                                             (completion.cme.state or "").strip().upper()),
            learner_id=completion.cme.license_id or completion.npi, credits=_text(completion.cme.credits), **common))
    for moc in completion.moc:
        records.append(ReportedRecord(
            record_id=uuid4(), target=Target(kind="moc", code=moc.board.strip().upper()), learner_id=moc.board_id,
            credits=_text(moc.credits),
            credit_types=[CreditTypeClaim(name=name, points=_text(v)) for name, v in moc.credit_types.items()],
            **common))
    for rems in completion.rems or []:
        records.append(ReportedRecord(
            record_id=uuid4(), target=Target(kind="rems", code=rems.program.strip().upper()),
            learner_id=rems.learner_id, credits=_text(completion.cme.credits) if completion.cme else None,
            rems=RemsFields(**rems.model_dump(exclude={"program", "learner_id"})), **common))
    return records


async def publish_records(broker: KafkaBroker, settings: Settings, records: list[ReportedRecord],
                          correlation_id: str) -> None:
    """Answer only once Kafka holds every record (acks=all): a 202 means nothing is lost."""
    pending = []
    for m in (submission(settings, record, correlation_id) for record in records):
        pending.append(await broker.publish(m.value, m.topic, key=m.key, headers=m.headers, no_confirm=True))
    await asyncio.gather(*pending)


def submission(settings: Settings, record: ReportedRecord, correlation_id: str) -> OutboxMessage:
    """A record's SubmitRecord on pars.submissions, keyed by provider and credit ID so an Add and its Delete
    stay in order."""
    command = SubmitRecord(record=record, correlation_id=correlation_id, provider_id=record.provider_id,
                           record_id=record.record_id, submission_id=record.submission_id)
    return OutboxMessage(topic=settings.topic(SUBMISSIONS.name), value=command.to_bytes(),
                         key=f"{record.provider_id}:{record.credit_id}".encode(),
                         headers={"event_type": command.event_type, "correlation_id": correlation_id})


async def dry_run(validation: httpx.AsyncClient, records: list[ReportedRecord]) -> list[RecordAnswer]:
    """The learner validation tool's answer per record: the status and codes it would get, nothing kept."""
    checked = await check_records(validation, records)
    return [RecordAnswer(record_id=r.record_id, target=r.target.code, status=a["status"], errors=a["errors"])
            for r, a in zip(records, checked, strict=True)]


async def submit_and_wait(broker: KafkaBroker, settings: Settings, waiters: Waiters, records: list[ReportedRecord],
                          correlation_id: str, wait_seconds: float) -> list[RecordAnswer]:
    """Publish, then wait up to `wait_seconds` for validation's decisions; undecided records answer Processing."""
    ids = [r.record_id for r in records]
    futures = waiters.expect(ids) if wait_seconds > 0 else []
    try:
        await publish_records(broker, settings, records, correlation_id=correlation_id)
        if futures:
            await asyncio.wait(futures, timeout=wait_seconds)
    finally:
        waiters.forget(ids)
    return [
        future.result() if future is not None and future.done()
        else RecordAnswer(record_id=record.record_id, target=record.target.code, status="Processing")
        for record, future in zip(records, futures or [None] * len(records), strict=True)
    ]
