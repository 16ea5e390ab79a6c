"""Upload Learner Batch File: the file in (by the page's script with its progress, or by the plain form), the batch's
progress while validation answers its records, its tallies, the upload history and the outcome files.

The same calls as POST /v1/batches and its downloads (batches.service, batches.storage, the outcome file writer):
a file is parsed, kept with its queued records in one transaction, or kept in the history as failed with the reason.
"""

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from intake.attachments import content_disposition, safe_file_name
from intake.batch_files.model import MAX_FILE_BYTES, BatchFileError, too_large
from intake.batches import service, storage
from intake.dependencies import Pool
from intake.errors import error_body
from intake.portal.pages import Session, check_csrf, render, see_other
from intake.portal.sessions import PortalSession
from shared.ids import new_id
from shared.logging import get_logger

router = APIRouter()
log = get_logger(__name__)
HISTORY_ROWS = 50
ACCEPTED_FILES = ".xlsx,.txt,.xml"


def progress(row: asyncpg.Record) -> dict[str, Any]:
    """What the page shows of a batch: its status and tallies (the bar is added + rejected of records)."""
    return {"batch_id": str(row["batch_id"]), "file_name": row["file_name"], "format": row["format"],
            "status": row["status"], "reason": row["reason"], "records": row["records"] or 0,
            "added": row["added"] or 0, "rejected": row["rejected"] or 0,
            "uploaded_at": row["uploaded_at"].isoformat() if row["uploaded_at"] else None,
            "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None}


async def _page(request: Request, session: PortalSession, pool: asyncpg.Pool, *, batch: dict[str, Any] | None,
                problem: str = "", status_code: int = 200) -> HTMLResponse:
    _, rows = await storage.history(pool, session.principal.provider_id, HISTORY_ROWS, 0)
    return render(request, "uploads.html", {
        "title": "Upload Learner Batch File", "batch": batch, "history": [progress(r) for r in rows],
        "problem": problem, "accept": ACCEPTED_FILES, "max_mb": MAX_FILE_BYTES // (1024 * 1024)},
        status_code=status_code, session=session)


async def _batch(pool: asyncpg.Pool, session: PortalSession, batch_id: UUID) -> asyncpg.Record | None:
    return await storage.get_batch(pool, batch_id, session.principal.provider_id)


@router.get("/uploads", response_class=HTMLResponse)
async def uploads_page(request: Request, session: Session, pool: Pool, batch_id: UUID | None = None) -> HTMLResponse:
    row = await _batch(pool, session, batch_id) if batch_id else None
    return await _page(request, session, pool, batch=progress(row) if row else None,
                       problem="No such upload for your provider." if batch_id and row is None else "")


async def _keep(request: Request, pool: asyncpg.Pool, provider_id: str,
                file: UploadFile | None) -> tuple[UUID, str | None]:
    """POST /v1/batches' steps: the batch kept with its queued records, or kept as failed; the refusal's words."""
    batch_id = new_id()
    file_name = safe_file_name((file.filename if file else None) or "", default="upload")
    if file is None or not file.filename:
        return batch_id, "Choose a batch file (.xlsx, .txt or .xml) first."
    try:
        if (file.size or 0) > MAX_FILE_BYTES:
            await service.refuse_upload(pool, batch_id, provider_id, file_name, too_large())
            return batch_id, too_large().message
        data = await file.read(MAX_FILE_BYTES + 1)
        await service.keep_upload(pool, request.app.state.outbox, request.app.state.parse_turns,
                                  request.app.state.settings, batch_id, provider_id, file_name, data)
    except BatchFileError as exc:  # kept in the history as failed, by keep_upload
        return batch_id, exc.message
    return batch_id, None


@router.post("/uploads")
async def upload(request: Request, session: Session, pool: Pool, file: UploadFile | None = None,
                 csrf_token: Annotated[str, Form()] = "") -> Response:
    """The page's script asks for JSON (Accept) and follows the batch itself; the plain form is sent to its page."""
    check_csrf(session, csrf_token)
    assert session.principal.provider_id is not None
    batch_id, refused = await _keep(request, pool, session.principal.provider_id, file)
    wants_json = "application/json" in request.headers.get("accept", "")
    if refused is not None:
        if wants_json:
            return JSONResponse(error_body("batch_refused", refused), status_code=422)
        row = await _batch(pool, session, batch_id)
        return await _page(request, session, pool, batch=progress(row) if row else None, problem=refused,
                           status_code=422)
    if wants_json:
        return JSONResponse({"batch_id": str(batch_id), "page": f"/portal/uploads?batch_id={batch_id}"},
                            status_code=202)
    return see_other(f"/portal/uploads?batch_id={batch_id}")


@router.get("/uploads/{batch_id}/progress")
async def batch_progress(batch_id: UUID, session: Session, pool: Pool) -> JSONResponse:
    row = await _batch(pool, session, batch_id)
    if row is None:
        return JSONResponse(error_body("not_found", f"No batch {batch_id}."), status_code=404)
    return JSONResponse(progress(row), headers={"Cache-Control": "no-store"})


async def _outcome_file(request: Request, session: PortalSession, pool: asyncpg.Pool, batch_id: UUID, *,
                        rejected: bool) -> Response:
    row = await _batch(pool, session, batch_id)
    if row is None or row["status"] == "failed":
        text = (f"The file was refused as a whole: {row['reason']}" if row is not None else
                f"There is no upload {batch_id} for your provider.")
        return render(request, "message.html", {"title": "No file to download", "text": text},
                      status_code=404 if row is None else 409, session=session)
    written = await service.outcome_file_of(pool, row, rejected=rejected)
    return Response(written.content, media_type=written.media_type, headers={
        "Content-Disposition": content_disposition(written.file_name), "X-Batch-Status": row["status"],
        "Cache-Control": "no-store"})


@router.get("/uploads/{batch_id}/rejections")
async def rejections(batch_id: UUID, request: Request, session: Session, pool: Pool) -> Response:
    return await _outcome_file(request, session, pool, batch_id, rejected=True)


@router.get("/uploads/{batch_id}/successes")
async def successes(batch_id: UUID, request: Request, session: Session, pool: Pool) -> Response:
    return await _outcome_file(request, session, pool, batch_id, rejected=False)
