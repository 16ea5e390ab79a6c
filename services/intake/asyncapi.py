"""GET /asyncapi: the AsyncAPI document of every topic and message (shared.asyncapi), with this stack's names.
Public, as /openapi.json is: it describes the pipeline's contract, no data."""

from typing import Any

from fastapi import APIRouter, Request

from shared.asyncapi import document

router = APIRouter(tags=["contract"])


@router.get("/asyncapi", include_in_schema=False)
async def asyncapi(request: Request) -> dict[str, Any]:
    state = request.app.state
    if getattr(state, "asyncapi", None) is None:  # built once: the registry does not change while intake runs
        state.asyncapi = document(state.settings)
    answer: dict[str, Any] = state.asyncapi
    return answer
