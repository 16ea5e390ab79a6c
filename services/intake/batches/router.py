"""POST /v1/batches and the upload history: files in, per-record outcomes and rejection files out."""

from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from intake.attachments import content_disposition, safe_file_name
from intake.batch_files.model import FRAMING_BYTES, MAX_FILE_BYTES, BatchFileError, ParsedBatch, too_large
from intake.batches import service, storage
from intake.batches.schemas import Batch, BatchAccepted, BatchDryRun, BatchPage, BatchRefusal
from intake.dependencies import CurrentPrincipal, CurrentProvider, Pool
from intake.errors import AUTHENTICATED, ApiError, error_body, errors
from intake.paging import Page
from intake.validation_client import Validation, check_records
from shared.ids import new_id
from shared.logging import get_logger

router = APIRouter(prefix="/v1", tags=["batches"], responses=AUTHENTICATED)
log = get_logger(__name__)
NOT_YOURS = "No such batch for this key (another provider's answers 404 too)."
OUTCOME_FILE = {"description": "The file, in the upload's own format (header X-Batch-Status: the batch's status).",
                "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/tab-separated-values",
                    "application/xml")}}
OUTCOME_FILE_ERRORS = errors(404, 409, e404=NOT_YOURS, e409="The file was refused as a whole (`batch_failed`): it "
                                                            "has no rows to answer.")


def batch_body(row: asyncpg.Record) -> dict[str, Any]:
    body = {k: row[k] for k in ("file_name", "format", "layout", "status", "reason", "records", "added",
                                "rejected", "uploaded_at", "completed_at")}
    body["batch_id"] = str(row["batch_id"])
    base = f"/v1/batches/{row['batch_id']}"
    body["links"] = {"self": base, "rejections": f"{base}/rejections", "successes": f"{base}/successes"}
    return body


async def _read_upload(request: Request, file: UploadFile | None) -> tuple[str, bytes]:
    if file is None:
        raise ApiError(422, "missing_file", "Send the batch file as multipart form data in the field 'file'.")
    file_name = safe_file_name(file.filename or "", default="upload")  # kept and shown: a name, never a path
    if (file.size or 0) > MAX_FILE_BYTES or int(request.headers.get("content-length") or 0) > (
            MAX_FILE_BYTES + FRAMING_BYTES):
        raise too_large()
    return file_name, await file.read(MAX_FILE_BYTES + 1)


@router.post("/batches", summary="Upload a batch file", status_code=202, response_model=BatchAccepted, responses={
    200: {"model": BatchDryRun, "description": "dry_run=true: every record's codes; nothing was kept."},
    **errors(403, 413, 422, e403="Not a provider's key: batches are uploaded with a provider's interactive key.",
             e413="The file is larger than PARS takes (see Limits)."),
    422: {"model": BatchRefusal, "description": "No file in the field `file`, or a file that cannot be a batch "
                                               "(unknown type, unreadable, over 5,000 records, required columns "
                                               "missing, XML not well formed): listed in the history as failed."}})
async def upload_batch(request: Request, provider: CurrentProvider, pool: Pool, validation: Validation,
                       file: UploadFile | None = None, dry_run: bool = False) -> Any:
    assert provider.provider_id is not None
    batch_id = new_id()
    file_name = safe_file_name((file.filename if file else None) or "", default="upload")
    try:
        try:
            file_name, data = await _read_upload(request, file)
        except BatchFileError as exc:
            if not dry_run:  # the keep_upload below would have kept it as failed
                await service.refuse_upload(pool, batch_id, provider.provider_id, file_name, exc)
            raise
        if dry_run:  # the dry run answers each record's codes: it keeps the records
            checked = await service.parse_off_loop(request.app.state.parse_turns, file_name, data,
                                                   provider.provider_id, batch_id)
        else:  # an upload keeps their messages, or is kept as failed
            parsed = await service.keep_upload(pool, request.app.state.outbox, request.app.state.parse_turns,
                                               request.app.state.settings, batch_id, provider.provider_id, file_name,
                                               data)
    except BatchFileError as exc:
        body = error_body(exc.code, exc.message)
        body["batch_id"] = None if dry_run else str(batch_id)
        return JSONResponse(body, status_code=422)
    if dry_run:
        return await _dry_run(validation, file_name, checked)
    return {"batch_id": str(batch_id), "file_name": file_name, "format": parsed.format.value,
            "layout": parsed.layout.value, "status": "processing", "records": parsed.record_count}


async def _dry_run(validation: Any, file_name: str, parsed: ParsedBatch) -> JSONResponse:
    """The learner validation tool: every row's codes, nothing kept, nothing in the history."""
    records = [(row.number, r.record) for row in parsed.rows for r in row.records]
    answers = await check_records(validation, [r for _, r in records])
    rows = [{"row": number, "target": record.target.code, "status": answer["status"], "errors": answer["errors"]}
            for (number, record), answer in zip(records, answers, strict=True)]
    rejected = sum(1 for r in rows if r["errors"])
    return JSONResponse({"dry_run": True, "file_name": file_name, "format": parsed.format.value,
                         "layout": parsed.layout.value, "records": len(rows), "added": len(rows) - rejected,
                         "rejected": rejected, "rows": rows}, status_code=200)


@router.get("/batches", summary="List uploads", response_model=BatchPage)
async def list_batches(principal: CurrentPrincipal, pool: Pool, page: Page = 1,
                         per_page: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    owner = None if principal.is_operator else principal.provider_id
    total, rows = await storage.history(pool, owner, per_page, (page - 1) * per_page)
    return {"total": total, "page": page, "per_page": per_page, "items": [batch_body(r) for r in rows]}


async def _batch(pool: asyncpg.Pool, principal: Any, batch_id: UUID) -> asyncpg.Record:
    row = await storage.get_batch(pool, batch_id, None if principal.is_operator else principal.provider_id)
    if row is None:
        raise ApiError(404, "not_found", f"No batch {batch_id}.")
    return row


@router.get("/batches/{batch_id}", summary="Get a batch", response_model=Batch,
            responses=errors(404, e404=NOT_YOURS))
async def get_batch(batch_id: UUID, principal: CurrentPrincipal, pool: Pool) -> dict[str, Any]:
    return batch_body(await _batch(pool, principal, batch_id))


@router.get("/batches/{batch_id}/rejections", summary="Download a batch's rejected rows", response_class=Response,
            responses={200: OUTCOME_FILE, **OUTCOME_FILE_ERRORS})
async def download_rejections(batch_id: UUID, principal: CurrentPrincipal, pool: Pool) -> Response:
    return await _outcome_file(pool, await _batch(pool, principal, batch_id), rejected=True)


@router.get("/batches/{batch_id}/successes", summary="Download a batch's added rows", response_class=Response,
            responses={200: OUTCOME_FILE, **OUTCOME_FILE_ERRORS})
async def download_successes(batch_id: UUID, principal: CurrentPrincipal, pool: Pool) -> Response:
    return await _outcome_file(pool, await _batch(pool, principal, batch_id), rejected=False)


async def _outcome_file(pool: asyncpg.Pool, batch: asyncpg.Record, *, rejected: bool) -> Response:
    if batch["status"] == "failed":
        raise ApiError(409, "batch_failed", f"The file was refused as a whole: {batch['reason']}")
    written = await service.outcome_file_of(pool, batch, rejected=rejected)
    headers = {"Content-Disposition": content_disposition(written.file_name),
               "X-Batch-Status": batch["status"]}
    return Response(written.content, media_type=written.media_type, headers=headers)
