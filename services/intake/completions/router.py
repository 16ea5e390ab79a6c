"""POST /v1/completions."""

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from intake.completions.idempotency import HEADER, KEEP_FOR, idempotency_key
from intake.completions.route import CompletionRoute
from intake.completions.schemas import Completion, SubmissionAnswer
from intake.dependencies import CurrentProvider, Pool
from intake.errors import AUTHENTICATED, errors
from intake.keepable import refuse_unkeepable_records
from intake.submitting.completions import dry_run as dry_run_answers
from intake.submitting.completions import split_into_records, submit_once
from intake.validation_client import Validation
from shared.ids import new_id

# CompletionRoute: plain requests skip FastAPI's per-request dependency solving (completions/route.py).
router = APIRouter(prefix="/v1", tags=["completions"], responses=AUTHENTICATED, route_class=CompletionRoute)
WAIT_SECONDS = 5.0
RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": SubmissionAnswer, "description": "dry_run=true: each record's status and codes; nothing was kept."},
    **errors(
        400, 403, 409, 413, 422, 503,
        e403="A web-service key, or an operator's key: completions need a provider's interactive key.",
        e409="The Idempotency-Key's first request expired just now; send the request again.",
        e413="The body is larger than the route takes, or a record of the completion would be too large to keep "
             "(the error names its target and field). Nothing was kept.",
        e422="Not a completion, or an Idempotency-Key that is malformed or was sent with another completion.",
        e503="PARS's database or message log is unavailable for a moment. Nothing was kept; send the request again "
             "(after Retry-After seconds, when given) with the same Idempotency-Key, if any."),
}
IDEMPOTENCY_KEY = Header(
    alias=HEADER, description=f"Your own name for this completion (a UUID, up to 255 visible ASCII characters). A "
    f"retry with the same key and completion within {KEEP_FOR.total_seconds() / 3600:.0f} hours answers the first "
    "request's submission (header Idempotent-Replayed: true) and keeps nothing again; the same key with another "
    "completion answers 422.")


@router.post("/completions", status_code=202, response_model=SubmissionAnswer, responses=RESPONSES,
             operation_id="submitCompletions", summary="Submit a completion",
             response_description="The submission: one record per target, each Processing unless wait=true.")
async def submit_completion(completion: Completion, request: Request, provider: CurrentProvider, pool: Pool,
                            validation: Validation, response: Response, wait: bool = False, dry_run: bool = False,
                            idempotency: Annotated[str | None, IDEMPOTENCY_KEY] = None) -> SubmissionAnswer:
    assert provider.provider_id is not None
    submission_id = new_id()
    records = split_into_records(completion, provider.provider_id, submission_id)
    refuse_unkeepable_records(records)  # what is answered 202 must be keepable by every service
    if dry_run:  # the learner validation tool: the codes, nothing kept
        response.status_code = 200
        return SubmissionAnswer(submission_id=submission_id, credit_id=records[0].credit_id or "", dry_run=True,
                                records=await dry_run_answers(validation, records))
    key = idempotency_key(provider.provider_id, idempotency, completion)
    answer, replayed = await submit_once(request.app.state.submissions, pool, records, submission_id, key,
                                         WAIT_SECONDS if wait else 0.0)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer
