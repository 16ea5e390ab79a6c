"""POST /v1/activities and GET /v1/activities/{id} (the activity summaries come with the projection)."""

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from intake.activities import queries
from intake.activities.registration import as_provider_sees_it
from intake.activities.schemas import Activity, ActivityRegistration, ActivitySummaryPage, SortParameter
from intake.dependencies import CurrentPrincipal, CurrentProvider, Pool
from intake.errors import AUTHENTICATED, errors
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json
from intake.paging import Page
from intake.records.queries import guarded, record_filters
from intake.records.schemas import BoardFilter, StatusFilter
from intake.validation_client import Validation, forward

router = APIRouter(prefix="/v1", tags=["activities"], responses=AUTHENTICATED)
VALIDATION_UNAVAILABLE = "The validation service, which keeps the activities, does not answer; send the request again."


@router.post("/activities", summary="Register an activity", status_code=201, response_model=Activity, responses={
    200: {"model": Activity, "description": "The activity was registered by this provider before: it is updated."},
    **errors(400, 403, 422, 503, e403="Not a provider's key: a provider registers its own activities.",
             e422="The activity cannot be registered (`invalid_activity`): details name each field and the rule.",
             e503=VALIDATION_UNAVAILABLE)})
async def register_activity(registration: ActivityRegistration, request: Request, provider: CurrentProvider,
                            validation: Validation) -> JSONResponse:
    body = await request.json()  # forwarded as it came: validation reads it with the same lenient model
    refuse_unkeepable_json(body)  # validation keeps it: no NUL, no infinite credits
    answer = await forward(validation, "POST", "/internal/activities", json=body,
                           params={"provider_id": provider.provider_id})
    return as_provider_sees_it(in_api_shape(answer, "an activity registration"), body.get("id"))


@router.get("/activities", summary="Summarise records by activity", response_model=ActivitySummaryPage,
            responses=errors(503, e503="The record projection or PARS's database is not ready or not reachable."))
async def list_activities(
    request: Request, principal: CurrentPrincipal, pool: Pool,
    format: Annotated[str | None, Query(description="The activity's format (Live Course...), case forgiven.")] = None,
    q: Annotated[str | None, Query(description="Part of the activity's title or ID.")] = None,
    status: StatusFilter = None, board: BoardFilter = None, name: str | None = None, learner_id: str | None = None,
    completed_from: date | None = None, completed_to: date | None = None, sort: SortParameter = "id",
    page: Page = 1, per_page: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The Learner Summary by Activity: each activity with its Submitted, Accepted and Rejected counts, under the
    record list's filters."""
    where, args = record_filters(principal, activity_id=None, status=status, board=board, name=name,
                                 learner_id=learner_id, completed_from=completed_from, completed_to=completed_to,
                                 with_provider=False)
    total, rows = await guarded(queries.summary(pool, request.app.state.projection_schema, principal, where, args,
                                                format=format, text=q, sort=sort, page=page, per_page=per_page))
    return {"total": total, "page": page, "per_page": per_page, "items": [dict(r) for r in rows]}


@router.get("/activities/{activity_id}", summary="Get an activity", response_model=Activity,
            responses=errors(404, 503, e404="No such activity for this key (another provider's answers 404 too).",
                             e503=VALIDATION_UNAVAILABLE))
async def get_activity(activity_id: str, principal: CurrentPrincipal, validation: Validation) -> JSONResponse:
    params = {} if principal.is_operator else {"provider_id": principal.provider_id}
    # Quoted: an ID holding '?', '#' or '/' stays one path segment of validation's route.
    return await forward(validation, "GET", f"/internal/activities/{quote(activity_id, safe='')}", params=params)
