"""The validation service's own HTTP routes, for the intake API: activities and learner matching.

Validation owns the activities and the physician directory, so it answers for them; intake checks who
is asking and forwards. These routes are internal: they trust the provider ID intake passes, so each call
must carry the stack's service token (shared/service.py: internal_router), and they listen on loopback unless
PARS_HEALTH_HOST says otherwise.
"""

from typing import Any

import asyncpg
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from shared.board_overrides import read_boards
from shared.events import ActivityRegistered, ReportedRecord, SubmitRecord
from shared.ids import new_id
from shared.names import name_key
from shared.npi import is_valid_npi
from shared.outbox import event_message
from shared.service import internal_router
from shared.states import state_code
from shared.topics import ACTIVITIES
from validation import storage
from validation.activity_registration import ActivityRegistration, check_activity
from validation.decide import dry_run_answer
from validation.matching import LearnerQuery, learner_fields, match_learner
from validation.world import license_key

router = internal_router()


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.validation_pool


@router.post("/activities")
async def register_activity(registration: ActivityRegistration, provider_id: str, request: Request) -> JSONResponse:
    pool = _pool(request)
    async with pool.acquire() as conn, conn.transaction():
        boards = await read_boards(conn)
        activity, problems = check_activity(registration, provider_id, boards)
        if activity is None:
            details = [{"field": p.field, "reason": p.reason} for p in problems]
            return JSONResponse({"error": {"code": "invalid_activity", "message": "The activity cannot be registered.",
                                           "details": details}}, status_code=422)
        owner = await storage.lock_activity_owner(conn, activity.id)
        if owner is not None and owner != provider_id:
            return JSONResponse({"error": {"code": "activity_taken", "message": f"Activity ID {activity.id} is "
                                           "registered by another provider.", "details": []}}, status_code=409)
        await storage.save_activity(conn, activity)
        # The projection lists activities too: it hears of this one in the same transaction's outbox.
        event = ActivityRegistered(activity=activity, correlation_id=str(new_id()), provider_id=provider_id)
        await request.app.state.validation_outbox.enqueue(
            conn, [event_message(request.app.state.settings.topic(ACTIVITIES.name), event, activity.id)])
    return JSONResponse(activity.model_dump(mode="json"), status_code=200 if owner else 201)


@router.get("/activities/{activity_id}")
async def get_activity(activity_id: str, request: Request, provider_id: str | None = None) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        found = (await storage.activities(conn, [activity_id])).get(activity_id)
    if found is None or (provider_id is not None and found.provider_id != provider_id):
        raise HTTPException(404, f"No activity {activity_id}.")
    return found.model_dump(mode="json")


@router.post("/check")
async def check_records(records: list[ReportedRecord], request: Request) -> list[dict[str, Any]]:
    """The learner validation tool: each record's outcome and codes, as if submitted in this order; nothing kept."""
    commands = [SubmitRecord(record=r, correlation_id=f"dry-run:{r.submission_id}", provider_id=r.provider_id,
                             record_id=r.record_id, submission_id=r.submission_id) for r in records]
    decisions = await request.app.state.submission_handler.check_only(commands)
    return [dry_run_answer(record, decision) for record, decision in zip(records, decisions, strict=True)]


@router.post("/learners/match")
async def match(query: LearnerQuery, request: Request) -> dict[str, Any]:
    state = state_code(query.state)
    licenses = [(state, license_key(query.license_id))] if state and query.license_id else []
    npis = [n.strip() for n in (query.npi, query.license_id) if n and is_valid_npi(n.strip())]
    names = [(name_key(query.last_name), name_key(query.first_name))] if query.first_name and query.last_name else []
    certs = [(query.board.strip().upper(), query.board_id.strip())] if query.board and query.board_id else []
    candidates = await storage.directory_candidates(_pool(request), licenses=licenses, npis=npis, names=names,
                                                    certifications=certs)
    result = match_learner(query, candidates)
    if result.matched and result.learner is not None:
        return {"matched": True, "learner": learner_fields(result.learner, query)}
    return {"matched": False, "need": result.need, "reason": result.reason}



