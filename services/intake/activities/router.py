"""POST /v1/activities and GET /v1/activities/{id} (the activity summaries come with the projection)."""

from typing import Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from intake.dependencies import CurrentPrincipal, CurrentProvider
from intake.validation_client import Validation, forward

router = APIRouter(prefix="/v1")


@router.post("/activities")
async def register_activity(provider: CurrentProvider, validation: Validation,
                            body: dict[str, Any] = Body(...)) -> JSONResponse:
    return await forward(validation, "POST", "/internal/activities", json=body,
                         params={"provider_id": provider.provider_id})


@router.get("/activities/{activity_id}")
async def get_activity(activity_id: str, principal: CurrentPrincipal, validation: Validation) -> JSONResponse:
    params = {} if principal.is_operator else {"provider_id": principal.provider_id}
    return await forward(validation, "GET", f"/internal/activities/{activity_id}", params=params)
