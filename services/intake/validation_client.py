"""Calls to the validation service's own routes (it owns activities and the physician directory)."""

from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from intake.errors import ApiError
from shared.events import ReportedRecord
from shared.logging import CORRELATION_HEADER, current_correlation
from shared.service import SERVICE_TOKEN_HEADER
from shared.settings import Settings


async def _pass_correlation(request: httpx.Request) -> None:
    """Validation's lines for the call carry the id of the request (or message) that made it."""
    if (correlation := current_correlation()) is not None:
        request.headers[CORRELATION_HEADER] = correlation


def connect(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client of validation's internal routes, showing them the stack's service token and the correlation id.
    `transport`: validation's app itself, in tests."""
    return httpx.AsyncClient(base_url=settings.validation_base_url(), timeout=10.0, transport=transport,
                             headers={SERVICE_TOKEN_HEADER: settings.internal_token()},
                             event_hooks={"request": [_pass_correlation]})


async def get_validation(request: Request) -> httpx.AsyncClient:  # a coroutine: no thread-pool hand-off
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


CHECK_CHUNK = 1000


async def check_records(client: httpx.AsyncClient, records: list[ReportedRecord]) -> list[dict[str, Any]]:
    """The learner validation tool: validation's would-be answer per record, in order; nothing is kept.

    Records go in chunks, each seeing the ones before it only within its chunk (a file's Add and its Delete
    of the same credit ID should sit close together, as they do in a real file).
    """
    answers: list[dict[str, Any]] = []
    for start in range(0, len(records), CHECK_CHUNK):
        chunk = [r.model_dump(mode="json") for r in records[start:start + CHECK_CHUNK]]
        try:
            answer = await client.post("/internal/check", json=chunk, timeout=60.0)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise ApiError(503, "validation_unavailable", "The validation service does not answer; try again.") \
                from exc
        answers += answer.json()
    return answers
