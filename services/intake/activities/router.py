"""POST /v1/activities and GET /v1/activities/{id} (the activity summaries come with the projection)."""

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse

from intake.activities import queries
from intake.activities.registration import as_provider_sees_it
from intake.dependencies import CurrentPrincipal, CurrentProvider, Pool
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json
from intake.paging import Page
from intake.records.queries import guarded, record_filters
from intake.validation_client import Validation, forward

router = APIRouter(prefix="/v1")


@router.post("/activities")
async def register_activity(provider: CurrentProvider, validation: Validation,
                            body: dict[str, Any] = Body(...)) -> JSONResponse:
    refuse_unkeepable_json(body)  # validation keeps it: no NUL, no infinite credits
    answer = await forward(validation, "POST", "/internal/activities", json=body,
                           params={"provider_id": provider.provider_id})
    return as_provider_sees_it(in_api_shape(answer, "an activity registration"), body.get("id"))


@router.get("/activities")
async def activity_summary(
    request: Request, principal: CurrentPrincipal, pool: Pool, format: str | None = None, q: str | None = None,
    status: str | None = None, board: str | None = None, name: str | None = None, learner_id: str | None = None,
    completed_from: date | None = None, completed_to: date | None = None, sort: str = "id",
    page: Page = 1, per_page: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Each activity with its Submitted, Accepted and Rejected counts, under the record list's filters."""
    where, args = record_filters(principal, activity_id=None, status=status, board=board, name=name,
                                 learner_id=learner_id, completed_from=completed_from, completed_to=completed_to,
                                 with_provider=False)
    total, rows = await guarded(queries.summary(pool, request.app.state.projection_schema, principal, where, args,
                                                format=format, text=q, sort=sort, page=page, per_page=per_page))
    return {"total": total, "page": page, "per_page": per_page, "items": [dict(r) for r in rows]}


@router.get("/activities/{activity_id}")
async def get_activity(activity_id: str, principal: CurrentPrincipal, validation: Validation) -> JSONResponse:
    params = {} if principal.is_operator else {"provider_id": principal.provider_id}
    # Quoted: an ID holding '?', '#' or '/' stays one path segment of validation's route.
    return await forward(validation, "GET", f"/internal/activities/{quote(activity_id, safe='')}", params=params)
