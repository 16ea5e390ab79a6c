"""GET /v1/records, GET /v1/records/{id}, and deleting records."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from intake.attachments import content_disposition
from intake.dependencies import Broker, CurrentPrincipal, Pool
from intake.errors import AUTHENTICATED, ApiError, errors
from intake.paging import Page
from intake.records import deletes, downloads, queries
from intake.records.schemas import (
    BoardFilter,
    DeletedRecord,
    DeleteOutcomes,
    RecordPage,
    RecordSort,
    RecordWithHistory,
    StatusFilter,
)

router = APIRouter(prefix="/v1", tags=["records"], responses=AUTHENTICATED)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE = {"schema": {"type": "string", "format": "binary"}}
NOT_YOURS = "No such record for this key (another provider's answers 404 too)."


def _item(row: asyncpg.Record) -> dict[str, Any]:
    item = {k: row[k] for k in queries.LISTED}
    item["credits"] = float(row["credits"]) if isinstance(row["credits"], Decimal) else row["credits"]
    types = row["credit_types"]  # None only for a record PARS rejected
    item["credit_types"] = None if types is None else {k: float(v) for k, v in types.items()}
    return item


def _schema(request: Request) -> str:
    return request.app.state.projection_schema


@router.get("/records", summary="List records", response_model=RecordPage, responses={
    200: {"description": "format=json: a page of records. format=csv or xlsx: every record under the filters, as a "
                         "file.", "content": {"text/csv": FILE, XLSX: FILE}},
    **errors(403, 503, e403="A web-service key: the record list needs an interactive key.",
             e503="The record projection or PARS's database is not ready or not reachable; send the request again.")})
async def list_records(
    request: Request, principal: CurrentPrincipal, pool: Pool,
    activity_id: str | None = None, status: StatusFilter = None, board: BoardFilter = None, name: str | None = None,
    learner_id: str | None = None, completed_from: date | None = None, completed_to: date | None = None,
    sort: RecordSort = "-submission", page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 50, format: Literal["json", "csv", "xlsx"] = "json",
) -> Any:
    where, args = queries.record_filters(
        principal, activity_id=activity_id, status=status, board=board, name=name, learner_id=learner_id,
        completed_from=completed_from, completed_to=completed_to)
    if format != "json":  # the whole filtered list, streamed
        await queries.guarded(pool.fetchval(f"SELECT 1 FROM {_schema(request)}.records LIMIT 1"))
        stream = (downloads.csv_stream if format == "csv" else downloads.xlsx_stream)(
            pool, _schema(request), where, args, sort)
        media = "text/csv" if format == "csv" else XLSX
        return StreamingResponse(stream, media_type=media,
                                 headers={"Content-Disposition": content_disposition(f"records.{format}")})
    total, rows = await queries.guarded(queries.list_records(pool, _schema(request), where, args, sort=sort, page=page,
                                                      per_page=per_page))
    return {"total": total, "page": page, "per_page": per_page, "items": [_item(r) for r in rows]}


@router.get("/records/{record_id}", summary="Get a record with its history", response_model=RecordWithHistory,
            responses=errors(404, 503, e404=NOT_YOURS))
async def get_record(record_id: UUID, request: Request, principal: CurrentPrincipal, pool: Pool) -> dict[str, Any]:
    """A record with its history. A record PARS itself rejected (never kept, so in no list) answers here too:
    `"status": "Rejected by PARS"` with its errors, `credits` and `credit_types` null."""
    row = await queries.guarded(queries.get_record(pool, _schema(request), principal, record_id))
    if row is None:  # never kept: perhaps PARS rejected it (a 202 it answered must lead somewhere)
        row = await queries.guarded(queries.get_pars_rejection(pool, _schema(request), principal, record_id))
    if row is None:
        raise ApiError(404, "not_found", f"No record {record_id}.")
    item = _item(row)
    item["history"] = [
        {"event_id": h["event_id"], "event_type": h["event_type"], "occurred_at": h["occurred_at"],
         "errors": h["payload"].get("errors", [])}
        for h in await queries.history(pool, _schema(request), record_id)
    ]
    return item


@router.delete("/records/{record_id}", summary="Delete a record", status_code=202, response_model=DeletedRecord,
               responses=errors(
                   404, 409, 422, 503, e404=NOT_YOURS,
                   e409="The record is still with its board (Submitted or Delete Submitted): delete it once its board "
                        "has answered.",
                   e422="Past the board's delete deadline (PARS code 706), another PARS code, or a record_id that is "
                        "not a UUID."))
async def delete_record(record_id: UUID, request: Request, principal: CurrentPrincipal, pool: Pool,
                        broker: Broker) -> JSONResponse:
    [outcome] = await _delete(request, principal, pool, broker, [record_id])
    status = outcome.pop("http_status")
    if "error" in outcome:
        return JSONResponse({"error": {**outcome["error"], "details": [{"record_id": str(record_id)}]}}, status)
    return JSONResponse(outcome, status)


@router.delete("/records", summary="Delete several records", status_code=207, response_model=DeleteOutcomes,
               response_description="One result per record, each with the status deleting it alone answers.")
async def delete_records(request: Request, principal: CurrentPrincipal, pool: Pool, broker: Broker,
                         record_id: Annotated[list[UUID], Query(min_length=1, max_length=500)]) -> JSONResponse:
    """Several records at once (?record_id=...&record_id=...): one result per record, in the order asked."""
    return JSONResponse({"results": await _delete(request, principal, pool, broker, record_id)}, 207)


async def _delete(request: Request, principal: CurrentPrincipal, pool: Pool, broker: Broker,
                  record_ids: list[UUID]) -> list[dict[str, Any]]:
    state = request.app.state
    return await deletes.delete_records(pool, _schema(request), state.submissions, principal, record_ids)
