"""GET /v1/records and GET /v1/records/{id}."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request

from intake.dependencies import CurrentPrincipal, Pool
from intake.errors import ApiError
from intake.records import queries

router = APIRouter(prefix="/v1")


def _item(row: asyncpg.Record) -> dict[str, Any]:
    item = {k: row[k] for k in queries.COLUMNS.replace(" ", "").split(",")}
    item["credits"] = float(row["credits"]) if isinstance(row["credits"], Decimal) else row["credits"]
    item["credit_types"] = {k: float(v) for k, v in (row["credit_types"] or {}).items()}
    return item


def _schema(request: Request) -> str:
    return request.app.state.projection_schema


async def _guarded(call: Any) -> Any:
    try:
        return await call
    except asyncpg.UndefinedTableError as exc:
        raise ApiError(503, "projection_unavailable", "The record projection is not ready yet.") from exc


@router.get("/records")
async def list_records(
    request: Request, principal: CurrentPrincipal, pool: Pool,
    activity_id: str | None = None, status: str | None = None, board: str | None = None, name: str | None = None,
    learner_id: str | None = None, completed_from: date | None = None, completed_to: date | None = None,
    sort: str = "-submission", page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    where, args = queries.record_filters(
        principal, activity_id=activity_id, status=status, board=board, name=name, learner_id=learner_id,
        completed_from=completed_from, completed_to=completed_to)
    total, rows = await _guarded(queries.list_records(pool, _schema(request), where, args, sort=sort, page=page,
                                                      per_page=per_page))
    return {"total": total, "page": page, "per_page": per_page, "items": [_item(r) for r in rows]}


@router.get("/records/{record_id}")
async def get_record(record_id: UUID, request: Request, principal: CurrentPrincipal, pool: Pool) -> dict[str, Any]:
    row = await _guarded(queries.get_record(pool, _schema(request), principal, record_id))
    if row is None:
        raise ApiError(404, "not_found", f"No record {record_id}.")
    item = _item(row)
    item["history"] = [
        {"event_id": h["event_id"], "event_type": h["event_type"], "occurred_at": h["occurred_at"],
         "errors": h["payload"].get("errors", [])}
        for h in await queries.history(pool, _schema(request), record_id)
    ]
    return item
