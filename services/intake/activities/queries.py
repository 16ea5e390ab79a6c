"""The Learner Summary by Activity, read from the projection: each activity with its record counts."""

from typing import Any

import asyncpg

from intake.keys import Principal

SORTS = {"id": "a.id", "title": "lower(a.title)", "format": "a.format", "start": "a.start_date",
         "submitted": "submitted", "accepted": "accepted", "rejected": "rejected"}


def _order_by(sort: str) -> str:
    key = SORTS.get(sort.lstrip("-"), "a.id")
    return f"{key}{' DESC' if sort.startswith('-') else ''}, a.id"


def activity_where(principal: Principal, format: str | None, text: str | None, first: int) -> tuple[str, list[Any]]:
    """The activity filters, their parameters numbered from `first`."""
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.replace("?", f"${first + len(args) - 1}"))

    if not principal.is_operator:
        add("a.provider_id = ?", principal.provider_id)
    if format:
        add("lower(a.format) = lower(?)", format)
    if text:
        add("(a.title ILIKE ? OR a.id LIKE ?)", f"%{text}%")
    return " AND ".join(clauses) or "true", args


async def summary(pool: asyncpg.Pool, schema: str, principal: Principal, record_where: str, record_args: list[Any],
                  *, format: str | None, text: str | None, sort: str, page: int, per_page: int
                  ) -> tuple[int, list[asyncpg.Record]]:
    """`record_where` / `record_args` are the record list's own filters, so each count equals that list's total."""
    where, args = activity_where(principal, format, text, first=1)
    total = await pool.fetchval(f"SELECT count(*) FROM {schema}.activities a WHERE {where}", *args)
    where, args = activity_where(principal, format, text, first=len(record_args) + 1)
    counts = (f"SELECT count(*) FILTER (WHERE status = 'Submitted') AS submitted,"
              f" count(*) FILTER (WHERE status = 'Accepted') AS accepted,"
              f" count(*) FILTER (WHERE status = 'Rejected') AS rejected,"
              f" count(*) FILTER (WHERE status = 'Delete Submitted') AS delete_submitted"
              f" FROM {schema}.records WHERE activity_id = a.id AND {record_where}")
    rows = await pool.fetch(
        f"SELECT a.id, a.provider_id, a.title, a.format, a.start_date, a.end_date, c.submitted, c.accepted,"
        f" c.rejected, c.delete_submitted FROM {schema}.activities a CROSS JOIN LATERAL ({counts}) c"
        f" WHERE {where} ORDER BY {_order_by(sort)} LIMIT {per_page} OFFSET {(page - 1) * per_page}",
        *record_args, *args)
    return total, rows
