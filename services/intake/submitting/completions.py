"""A completion (POST /v1/completions, or a web service's JSON report) into one reported record per target; checked
without keeping (the dry run), or submitted once per Idempotency-Key (submitting/writer.py)."""

from decimal import Decimal
from functools import partial
from uuid import UUID

import asyncpg
import httpx

from intake.completions import idempotency
from intake.completions.idempotency import IdempotencyKey
from intake.completions.schemas import Completion, RecordAnswer, SubmissionAnswer
from intake.submitting.writer import Submissions
from intake.validation_client import check_records
from shared.events import CreditTypeClaim, RemsFields, ReportedRecord, Target
from shared.ids import new_id
from shared.states import state_code


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
            record_id=new_id(), target=Target(kind="state", code=state_code(completion.cme.state) or
                                             (completion.cme.state or "").strip().upper()),
            learner_id=completion.cme.license_id or completion.npi, credits=_text(completion.cme.credits), **common))
    for moc in completion.moc:
        records.append(ReportedRecord(
            record_id=new_id(), target=Target(kind="moc", code=moc.board.strip().upper()), learner_id=moc.board_id,
            credits=_text(moc.credits),
            credit_types=[CreditTypeClaim(name=name, points=_text(v)) for name, v in moc.credit_types.items()],
            **common))
    for rems in completion.rems or []:
        records.append(ReportedRecord(
            record_id=new_id(), target=Target(kind="rems", code=rems.program.strip().upper()),
            learner_id=rems.learner_id, credits=_text(completion.cme.credits) if completion.cme else None,
            rems=RemsFields(**rems.model_dump(exclude={"program", "learner_id"})), **common))
    return records


async def dry_run(validation: httpx.AsyncClient, records: list[ReportedRecord]) -> list[RecordAnswer]:
    """The learner validation tool's answer per record: the status and codes it would get, nothing kept."""
    checked = await check_records(validation, records)
    return [RecordAnswer(record_id=r.record_id, target=r.target.code, status=a["status"], errors=a["errors"])
            for r, a in zip(records, checked, strict=True)]


async def submit_once(submissions: Submissions, pool: asyncpg.Pool, records: list[ReportedRecord],
                      submission_id: UUID, key: IdempotencyKey | None,
                      wait_seconds: float) -> tuple[SubmissionAnswer, bool]:
    """Submit a completion's records; answer what to say and whether it is the answer of an earlier request that
    carried the same Idempotency-Key (then nothing was submitted again)."""
    first = SubmissionAnswer(submission_id=submission_id, credit_id=records[0].credit_id or "", records=[
        RecordAnswer(record_id=r.record_id, target=r.target.code, status="Processing") for r in records])
    claim = None if key is None else partial(idempotency.claim, key=key, answer=first)
    answers = await submissions.submit(records, str(submission_id), wait_seconds, claim=claim)
    if answers is None:
        assert key is not None
        return await idempotency.replay(pool, key), True
    answer = first.model_copy(update={"records": answers})
    if key is not None and answer != first:
        await idempotency.remember(pool, key, answer)
    return answer, False
