"""POST /v1/learners/match: live learner matching against the physician directory."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from intake.dependencies import CurrentPrincipal
from intake.errors import AUTHENTICATED, errors
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json
from intake.learners.schemas import LearnerMatch, LearnerQuery
from intake.validation_client import Validation, forward

router = APIRouter(prefix="/v1", tags=["learners"], responses=AUTHENTICATED)


@router.post("/learners/match", summary="Match a learner", response_model=LearnerMatch, responses=errors(
    400, 503, e503="The validation service, which keeps the physician directory, does not answer; send the request "
                   "again."))
async def match_learner(query: LearnerQuery, request: Request, _: CurrentPrincipal,
                        validation: Validation) -> JSONResponse:
    body = await request.json()  # forwarded as it came: validation reads it with the same model
    refuse_unkeepable_json(body)  # no NUL for the directory's queries, no infinite numbers for its JSON
    return in_api_shape(await forward(validation, "POST", "/internal/learners/match", json=body), "a learner query")
