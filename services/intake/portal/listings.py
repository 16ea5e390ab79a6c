"""Learner Summary by Activity, Learners in an activity, Learner Search, a record's page, and deleting records.

Each page reads through the API's own query functions (records.queries, activities.queries, records.deletes):
the filters, counts and delete rules are the API's, shown in a browser.
"""

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from intake.activities import queries as activity_queries
from intake.attachments import content_disposition
from intake.dependencies import Pool
from intake.keys import Principal
from intake.portal.filters import PAGE_SIZES, board_codes, read_filters
from intake.portal.pages import Session, check_csrf, render, see_other
from intake.records import deletes, downloads, queries
from intake.records.router import XLSX
from shared.fix_hints import fix_hint

router = APIRouter()

ACTIVITY_SORTS = {"id": "Activity ID", "title": "Title", "-start_date": "Newest first"}
RECORD_SORTS = {"-submission": "Newest submission", "name": "Learner name", "completion": "Completion date",
                "status": "Status", "board": "Board"}


def _projection(request: Request) -> str:
    return request.app.state.projection_schema


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@router.get("/", response_class=HTMLResponse)
async def learner_summary(request: Request, session: Session, pool: Pool) -> HTMLResponse:
    """Learner Summary by Activity: each activity with its records' counts by status, under the filters."""
    filters = read_filters(request, default_sort="id")
    where, args = filters.where(session.principal, with_provider=False)
    sort = filters.sort if filters.sort in ACTIVITY_SORTS else "id"
    total, rows = await queries.guarded(activity_queries.summary(
        pool, _projection(request), session.principal, where, args, format=None, text=filters.q or None, sort=sort,
        page=filters.page, per_page=filters.per_page))
    return render(request, "summary.html", {
        "activities": rows, "total": total, "filters": filters, "pages": _pages(total, filters.per_page),
        "sorts": ACTIVITY_SORTS, "boards": board_codes(), "page_sizes": PAGE_SIZES}, session=session)


async def _record_list(request: Request, session: Session, pool: Pool, *, activity_id: str | None,
                       title: str) -> HTMLResponse:
    filters = read_filters(request, default_sort="-submission")
    where, args = filters.where(session.principal, activity_id=activity_id)
    sort = filters.sort if filters.sort.lstrip("-") in {s.lstrip("-") for s in RECORD_SORTS} else "-submission"
    total, rows = await queries.guarded(queries.list_records(pool, _projection(request), where, args, sort=sort,
                                                             page=filters.page, per_page=filters.per_page))
    return render(request, "learners.html", {
        "title": title, "activity_id": activity_id, "records": rows, "total": total, "filters": filters,
        "pages": _pages(total, filters.per_page), "sorts": RECORD_SORTS, "boards": board_codes(),
        "page_sizes": PAGE_SIZES, "deleted": request.query_params.getlist("deleted")}, session=session)


@router.get("/activities/{activity_id}/learners", response_class=HTMLResponse)
async def learners_in_activity(activity_id: str, request: Request, session: Session, pool: Pool) -> HTMLResponse:
    return await _record_list(request, session, pool, activity_id=activity_id,
                              title=f"Learners in activity {activity_id}")


@router.get("/learners", response_class=HTMLResponse)
async def learner_search(request: Request, session: Session, pool: Pool) -> HTMLResponse:
    return await _record_list(request, session, pool, activity_id=None, title="Learner Search")


@router.get("/download")
async def download(request: Request, session: Session, pool: Pool) -> Response:
    """The filtered record list as CSV or xlsx, by the API's own download streams."""
    filters = read_filters(request, default_sort="-submission")
    file_format = "xlsx" if request.query_params.get("format") == "xlsx" else "csv"
    where, args = filters.where(session.principal)
    await queries.guarded(pool.fetchval(f"SELECT 1 FROM {_projection(request)}.records LIMIT 1"))
    stream = (downloads.xlsx_stream if file_format == "xlsx" else downloads.csv_stream)(
        pool, _projection(request), where, args, filters.sort)
    return StreamingResponse(stream, media_type=XLSX if file_format == "xlsx" else "text/csv",
                             headers={"Content-Disposition": content_disposition(f"records.{file_format}"),
                                      "Cache-Control": "no-store"})


def _errors_with_hints(errors: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    return [{"code": str(e.get("code", "")), "message": str(e.get("message", "")),
             "hint": fix_hint(str(e.get("code", "")))} for e in errors or []]


@router.get("/records/{record_id}", response_class=HTMLResponse)
async def record_page(record_id: UUID, request: Request, session: Session, pool: Pool) -> HTMLResponse:
    row = await queries.guarded(queries.get_record(pool, _projection(request), session.principal, record_id))
    if row is None:
        row = await queries.guarded(queries.get_pars_rejection(pool, _projection(request), session.principal,
                                                               record_id))
    if row is None:  # another provider's record does not exist for this one
        return render(request, "message.html", {"title": "No such record",
                                                "text": f"There is no record {record_id} for your provider."},
                      status_code=404, session=session)
    timeline = [{"event_type": h["event_type"], "occurred_at": h["occurred_at"],
                 "errors": _errors_with_hints(h["payload"].get("errors", []))}
                for h in await queries.history(pool, _projection(request), record_id)]
    return render(request, "record.html", {
        "record": row, "errors": _errors_with_hints(row["errors"]), "timeline": timeline,
        "outcome": request.query_params.get("outcome", "")}, session=session)


# What the API's delete answers mean, in words a provider's staff read.
def delete_outcome_words(outcome: dict[str, Any]) -> str:
    if "status" in outcome:
        return {"Delete Submitted": "Delete Submitted: the board has been asked to withdraw the credit.",
                "Deleted": "Deleted: the record is withdrawn.",
                "Processing": "Delete sent: PARS is still checking it; look again in a moment."
                }.get(outcome["status"], outcome["status"])
    error = outcome.get("error", {})
    if error.get("code") == "record_with_board":
        return "Not deleted yet: the board still holds this record. Try again once it has answered."
    if error.get("code") == "706":
        return f"Not deleted: {error.get('message', '')} (PARS 706: past the board's deadline for deletes)."
    return f"Not deleted: {error.get('message', 'the delete was refused')}."


# How long a delete's answer waits for the projection to show it (the pages read the projection, which applies the
# event a moment after validation's answer: the projector's consumer lingers up to 250 ms). After that the pages show
# what the projection holds, and the answer's words say what was done.
SHOWN_WITHIN_SECONDS = 2.0
_SHOWN_LOOK_SECONDS = 0.05


def not_shown_yet(outcomes: list[dict[str, Any]], shown: Mapping[UUID, Any]) -> list[UUID]:
    """The records whose delete the projection (`shown`: its live rows by record ID) does not show yet: a Delete
    Submitted record still in another status, a Deleted one still there. Refusals changed nothing to wait for."""
    waiting = []
    for outcome in outcomes:
        record_id, status = UUID(str(outcome["record_id"])), outcome.get("status")
        row = shown.get(record_id)
        if row is not None and (status == "Deleted" or (status == "Delete Submitted"
                                                         and row["status"] != "Delete Submitted")):
            waiting.append(record_id)
    return waiting


async def until_shown(pool: Any, schema: str, principal: Principal, outcomes: list[dict[str, Any]],
                      within: float = SHOWN_WITHIN_SECONDS) -> None:
    """Until the projection shows every delete of `outcomes`, or `within` seconds passed: the page the provider sees
    next then shows what they just did, not the status the record had before."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    waiting = [UUID(str(o["record_id"])) for o in outcomes if o.get("status") in ("Delete Submitted", "Deleted")]
    while waiting:
        waiting = not_shown_yet(outcomes, await queries.get_records(pool, schema, principal, waiting))
        if not waiting or loop.time() >= deadline:
            return
        await asyncio.sleep(_SHOWN_LOOK_SECONDS)


@router.post("/records/delete")
async def delete_selected(request: Request, session: Session, pool: Pool,
                          record_id: Annotated[list[UUID], Form(min_length=1, max_length=500)],
                          csrf_token: Annotated[str, Form()] = "",
                          back_to: Annotated[str, Form()] = "") -> Response:
    """Delete for one record (its page) or for several selected in a list: the API's delete, answered in words once
    the projection shows it. A record deleted from its own page goes back there, unless it is gone."""
    check_csrf(session, csrf_token)
    outcomes = await deletes.delete_records(pool, _projection(request), request.app.state.submissions,
                                            session.principal, record_id)
    await until_shown(pool, _projection(request), session.principal, outcomes)
    words = [f"{o['record_id']}: {delete_outcome_words(o)}" for o in outcomes]
    if len(record_id) == 1 and back_to.startswith("/portal/records/"):
        if await queries.get_record(pool, _projection(request), session.principal, record_id[0]) is not None:
            return see_other(f"/portal/records/{record_id[0]}?outcome={quote(words[0].split(': ', 1)[1], safe='')}")
        back_to = "/portal/learners"  # withdrawn already: its page is gone with it
    return render(request, "deleted.html", {"outcomes": words, "back_to": back_to or "/portal/learners"},
                  session=session)

