"""POST /v1/completions."""

import asyncio
from uuid import uuid4

from fastapi import APIRouter, Request

from intake.completions.schemas import Completion, RecordAnswer, SubmissionAnswer
from intake.completions.service import publish_records, split_into_records
from intake.dependencies import Broker, CurrentProvider

router = APIRouter(prefix="/v1")
WAIT_SECONDS = 5.0


@router.post("/completions", status_code=202, response_model=SubmissionAnswer)
async def submit_completion(completion: Completion, request: Request, provider: CurrentProvider,
                            broker: Broker, wait: bool = False) -> SubmissionAnswer:
    assert provider.provider_id is not None
    submission_id = uuid4()
    records = split_into_records(completion, provider.provider_id, submission_id)
    ids = [r.record_id for r in records]
    waiters = request.app.state.waiters
    futures = waiters.expect(ids) if wait else []
    try:
        await publish_records(broker, request.app.state.settings, records, correlation_id=str(submission_id))
        if futures:
            await asyncio.wait(futures, timeout=WAIT_SECONDS)
    finally:
        waiters.forget(ids)
    answers = [
        future.result() if future is not None and future.done()
        else RecordAnswer(record_id=record.record_id, target=record.target.code, status="Processing")
        for record, future in zip(records, futures or [None] * len(records), strict=True)
    ]
    return SubmissionAnswer(submission_id=submission_id, credit_id=records[0].credit_id or "", records=answers)
