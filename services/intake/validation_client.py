"""Calls to the validation service's own routes (it owns activities and the physician directory)."""

from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from intake.errors import ApiError


def get_validation(request: Request) -> httpx.AsyncClient:
    return request.app.state.validation_client


Validation = Annotated[httpx.AsyncClient, Depends(get_validation)]


async def forward(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> JSONResponse:
    """Ask validation and answer the caller with its status and body (errors already in the API's shape)."""
    try:
        answer = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise ApiError(503, "validation_unavailable", "The validation service does not answer; try again.") from exc
    if answer.status_code == 404:
        raise ApiError(404, "not_found", answer.json().get("detail") or "Not found.")
    return JSONResponse(answer.json(), status_code=answer.status_code)
