"""POST /v1/learners/match: live learner matching against the physician directory."""

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from intake.dependencies import CurrentPrincipal
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json
from intake.validation_client import Validation, forward

router = APIRouter(prefix="/v1")


@router.post("/learners/match")
async def match_learner(_: CurrentPrincipal, validation: Validation,
                        body: dict[str, Any] = Body(...)) -> JSONResponse:
    refuse_unkeepable_json(body)  # no NUL for the directory's queries, no infinite numbers for its JSON
    return in_api_shape(await forward(validation, "POST", "/internal/learners/match", json=body), "a learner query")
