"""POST /v1/completions."""

from uuid import uuid4

from fastapi import APIRouter, Request, Response

from intake.completions.schemas import Completion, SubmissionAnswer
from intake.completions.service import dry_run as dry_run_answers
from intake.completions.service import split_into_records, submit_and_wait
from intake.dependencies import Broker, CurrentProvider
from intake.keepable import refuse_unkeepable_records
from intake.validation_client import Validation

router = APIRouter(prefix="/v1")
WAIT_SECONDS = 5.0


@router.post("/completions", status_code=202, response_model=SubmissionAnswer)
async def submit_completion(completion: Completion, request: Request, provider: CurrentProvider, broker: Broker,
                            validation: Validation, response: Response, wait: bool = False,
                            dry_run: bool = False) -> SubmissionAnswer:
    assert provider.provider_id is not None
    submission_id = uuid4()
    records = split_into_records(completion, provider.provider_id, submission_id)
    refuse_unkeepable_records(records)  # what is answered 202 must be keepable by every service
    if dry_run:  # the learner validation tool: the codes, nothing kept
        response.status_code = 200
        return SubmissionAnswer(submission_id=submission_id, credit_id=records[0].credit_id or "", dry_run=True,
                                records=await dry_run_answers(validation, records))
    answers = await submit_and_wait(broker, request.app.state.settings, request.app.state.waiters, records,
                                    str(submission_id), WAIT_SECONDS if wait else 0.0)
    return SubmissionAnswer(submission_id=submission_id, credit_id=records[0].credit_id or "", records=answers)
