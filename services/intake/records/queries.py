"""Reads of the projection (the projector's schema, read-only here): record lists, timelines, PARS rejections."""

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from intake.errors import ApiError
from intake.keys import Principal
from shared.lifecycle import RecordStatus
from shared.projection import RECORD_COLUMNS, REJECTION_COLUMNS, select_list

SORTS = {
    "board": "board", "name": "lower(last_name), lower(first_name)", "completion": "completion_date",
    "submission": "submitted_at", "status": "status",
}
LISTED = ("record_id", "credit_id", "activity_id", "board", "first_name", "last_name", "dob", "learner_id",
          "completion_date", "submitted_at", "credits", "credit_types", "status", "errors")
COLUMNS = select_list(RECORD_COLUMNS, LISTED)


# A record PARS itself rejected, in a record's shape: it was never kept, so it has no credits, and its status
# is none of the kept records' (it is in no list, summary or download).
PARS_REJECTED = RecordStatus.REJECTED_BY_PARS.value
REJECTION_AS_RECORD = (
    select_list(REJECTION_COLUMNS, ("record_id", "credit_id", "activity_id", "board", "first_name", "last_name",
                                    "dob", "learner_id", "completion_date"))
    + f", {select_list(REJECTION_COLUMNS, ['rejected_at'])} AS submitted_at, NULL::numeric AS credits,"
    f" NULL::jsonb AS credit_types, '{PARS_REJECTED}' AS status, {select_list(REJECTION_COLUMNS, ['errors'])}")


def order_by(sort: str) -> str:
    descending = sort.startswith("-")
    key = SORTS.get(sort.lstrip("-"), "submitted_at")
    direction = " DESC" if descending else ""
    return ", ".join(f"{part}{direction}" for part in key.split(", ")) + ", record_id"


def record_filters(principal: Principal, *, activity_id: str | None, status: str | None, board: str | None,
                   name: str | None, learner_id: str | None, completed_from: date | None,
                   completed_to: date | None, with_provider: bool = True) -> tuple[str, list[Any]]:
    """The WHERE clause of a record query; without the provider test when an outer query scopes it."""
    clauses, args = ["NOT deleted"], []

    def add(sql: str, value: Any) -> None:  # every ? in `sql` is this one value
        args.append(value)
        clauses.append(sql.replace("?", f"${len(args)}"))

    if with_provider and not principal.is_operator:
        add("provider_id = ?", principal.provider_id)
    if activity_id:
        add("activity_id = ?", activity_id)
    if status:
        add("status = ?", status)
    if board:
        add("board = ?", board.upper())
    if name:
        add("(lower(last_name) LIKE ? OR lower(first_name) LIKE ?)", f"%{name.lower()}%")
    if learner_id:
        add("learner_id = ?", learner_id)
    if completed_from:
        add("completion_date >= ?", completed_from)
    if completed_to:
        add("completion_date <= ?", completed_to)
    return " AND ".join(clauses), args


async def list_records(pool: asyncpg.Pool, schema: str, where: str, args: list[Any], *, sort: str, page: int,
                       per_page: int) -> tuple[int, list[asyncpg.Record]]:
    total = await pool.fetchval(f"SELECT count(*) FROM {schema}.records WHERE {where}", *args)
    rows = await pool.fetch(
        f"SELECT {COLUMNS} FROM {schema}.records WHERE {where} ORDER BY {order_by(sort)}"
        f" LIMIT {per_page} OFFSET {(page - 1) * per_page}", *args)
    return total, rows


async def get_records(pool: asyncpg.Pool, schema: str, principal: Principal,
                      record_ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    """The live records among these IDs that the caller may see, in one query."""
    rows = await pool.fetch(f"SELECT provider_id, target_kind, {COLUMNS} FROM {schema}.records"
                            " WHERE record_id = ANY($1::uuid[]) AND NOT deleted", record_ids)
    # Another provider's record does not exist for this one.
    return {r["record_id"]: r for r in rows if principal.is_operator or r["provider_id"] == principal.provider_id}


async def get_record(pool: asyncpg.Pool, schema: str, principal: Principal, record_id: UUID) -> asyncpg.Record | None:
    return (await get_records(pool, schema, principal, [record_id])).get(record_id)


async def get_pars_rejection(pool: asyncpg.Pool, schema: str, principal: Principal,
                             record_id: UUID) -> asyncpg.Record | None:
    row = await pool.fetchrow(f"SELECT provider_id, {REJECTION_AS_RECORD} FROM {schema}.pars_rejections"
                              " WHERE record_id = $1", record_id)
    # As for a kept record, another provider's does not exist for this one.
    return row if row is not None and (principal.is_operator or row["provider_id"] == principal.provider_id) else None


async def history(pool: asyncpg.Pool, schema: str, record_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(f"SELECT event_id, event_type, occurred_at, payload FROM {schema}.record_events"
                            " WHERE record_id = $1 ORDER BY seq", record_id)


async def guarded(call: Any) -> Any:
    """A projection query; before the projector made its tables, the API says so instead of failing."""
    try:
        return await call
    except asyncpg.UndefinedTableError as exc:
        raise ApiError(503, "projection_unavailable", "The record projection is not ready yet.") from exc
