"""Add Learner: the manual entry form, built from the activity's registration, checked by the dry run, then submitted.

The page calls what POST /v1/completions and POST /v1/learners/match call: the completion model, split_into_records,
refuse_unkeepable_records, the dry run (validation's learner validation tool), submit_once with the form's own
Idempotency-Key (a form sent twice keeps one completion) and validation's learner matching.
"""

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from intake.activities import queries as activity_queries
from intake.completions.idempotency import idempotency_key
from intake.completions.schemas import Completion
from intake.dependencies import Pool
from intake.errors import ApiError, error_body
from intake.forwarded import in_api_shape
from intake.keepable import refuse_unkeepable_json, refuse_unkeepable_records
from intake.keys import Principal
from intake.learners.schemas import LearnerQuery
from intake.portal.learner_form import (
    FormErrors,
    LearnerForm,
    body_errors,
    completion_body,
    dry_run_errors,
    keepable_errors,
    read_form,
)
from intake.portal.pages import Session, check_csrf, csrf_header, render
from intake.portal.sessions import PortalSession
from intake.records.queries import guarded, record_filters
from intake.submitting.completions import dry_run, split_into_records, submit_once
from intake.validation_client import Validation, forward
from shared.events import ReportedRecord
from shared.ids import new_id

router = APIRouter()
WAIT_SECONDS = 5.0  # as ?wait=true: the answer once validation has decided


async def provider_activities(request: Request, pool: Pool, principal: Principal) -> list[Any]:
    """The provider's activities to choose from (the Learner Summary's query, no record filter)."""
    where, args = record_filters(principal, activity_id=None, status=None, board=None, name=None, learner_id=None,
                                 completed_from=None, completed_to=None, with_provider=False)
    try:
        _, rows = await guarded(activity_queries.summary(
            pool, request.app.state.projection_schema, principal, where, args, format=None, text=None, sort="id",
            page=1, per_page=1000))
    except ApiError:  # the projection is not ready: the ID can still be typed
        return []
    return list(rows)


async def registration(validation: httpx.AsyncClient, principal: Principal,
                       activity_id: str) -> tuple[dict[str, Any] | None, str]:
    """The activity as registered (GET /v1/activities/{id}'s answer), or why there is none."""
    try:
        answer = await validation.get(f"/internal/activities/{quote(activity_id, safe='')}",
                                      params={"provider_id": principal.provider_id})
    except httpx.HTTPError:
        return None, "The validation service, which keeps the activities, does not answer; try again in a moment."
    if answer.status_code != 200:
        return None, f"Your provider has no activity {activity_id}: check the ID or register the activity first."
    return answer.json(), ""


async def _page(request: Request, session: PortalSession, pool: Pool, validation: httpx.AsyncClient,
                activity_id: str, *, form: LearnerForm | None = None, errors: FormErrors | None = None,
                form_key: str = "", status_code: int = 200) -> HTMLResponse:
    activity, problem = await registration(validation, session.principal, activity_id) if activity_id else (None, "")
    errors = errors or FormErrors()
    if problem:
        errors.add("activity_id", problem)
    return render(request, "add_learner.html", {
        "title": "Add Learner", "activity_id": activity_id, "activity": activity,
        "activities": await provider_activities(request, pool, session.principal),
        "form": form or LearnerForm({}, list((activity or {}).get("moc") or {}), [], False),
        "errors": errors.by_field, "form_key": form_key or str(uuid4())}, status_code=status_code, session=session)


@router.get("/learners/new", response_class=HTMLResponse)
async def add_learner_page(request: Request, session: Session, pool: Pool, validation: Validation,
                           activity_id: str = "") -> HTMLResponse:
    return await _page(request, session, pool, validation, activity_id.strip())


async def _check(validation: httpx.AsyncClient, session: PortalSession, form: LearnerForm,
                 activity: dict[str, Any]) -> tuple[Completion | None, UUID, list[ReportedRecord], FormErrors]:
    """The completion and its records, or the errors beside their fields (nothing kept either way)."""
    body = completion_body(form, activity)
    submission_id = new_id()
    try:
        completion = Completion.model_validate(body)
    except ValidationError as exc:
        return None, submission_id, [], body_errors(exc, body)
    assert session.principal.provider_id is not None
    records = split_into_records(completion, session.principal.provider_id, submission_id)
    try:
        refuse_unkeepable_records(records)
        answers = await dry_run(validation, records)
    except ApiError as exc:
        errors = keepable_errors(exc.details, body)
        if not errors:  # validation did not answer
            errors.add("form", exc.message)
        return None, submission_id, [], errors
    return completion, submission_id, records, dry_run_errors(records, answers)


@router.post("/learners/new", response_class=HTMLResponse)
async def add_learner(request: Request, session: Session, pool: Pool, validation: Validation) -> HTMLResponse:
    posted = await request.form()
    check_csrf(session, str(posted.get("csrf_token") or ""))
    form = read_form(posted, {name: [str(v) for v in posted.getlist(name)] for name in ("moc", "rems")})
    activity_id = form.values.get("activity_id", "")
    form_key = form.values.get("form_key", "") or str(uuid4())
    activity, _ = await registration(validation, session.principal, activity_id) if activity_id else (None, "")
    if activity is None:
        return await _page(request, session, pool, validation, activity_id, form=form, form_key=form_key,
                           status_code=422)
    completion, submission_id, records, errors = await _check(validation, session, form, activity)
    if completion is None or errors:
        return await _page(request, session, pool, validation, activity_id, form=form, errors=errors,
                           form_key=form_key, status_code=422)
    assert session.principal.provider_id is not None
    try:  # the form's key: the same form sent again (a reload) answers the first submission, keeps nothing more
        key = idempotency_key(session.principal.provider_id, form_key, completion)
        answer, _ = await submit_once(request.app.state.submissions, pool, records, submission_id, key, WAIT_SECONDS)
    except ApiError as exc:
        errors.add("form", exc.message)
        return await _page(request, session, pool, validation, activity_id, form=form, errors=errors,
                           form_key=str(uuid4()), status_code=exc.status)
    return render(request, "learner_added.html", {
        "title": "Learner submitted", "answer": answer, "activity_id": activity_id,
        "learner": f"{form.values.get('first_name', '')} {form.values.get('last_name', '')}".strip()},
        session=session)


@router.post("/learners/match")
async def match_learner(request: Request, validation: Validation,
                        _: Annotated[PortalSession, Depends(csrf_header)]) -> JSONResponse:
    """The page's live "Learner Matched": POST /v1/learners/match's answer, for the signed-in provider's page."""
    try:
        body = await request.json()
        LearnerQuery.model_validate(body)
        refuse_unkeepable_json(body)
    except ValueError:  # not JSON, or not a learner query (pydantic's ValidationError is a ValueError)
        return JSONResponse(error_body("invalid_request", "Not a learner query."), status_code=422)
    except ApiError as exc:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)
    try:
        return in_api_shape(await forward(validation, "POST", "/internal/learners/match", json=body),
                            "a learner query")
    except ApiError as exc:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)
