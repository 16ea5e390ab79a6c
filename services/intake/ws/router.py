"""POST /v1/ws/activity-reports: a learning management system reports completions and gets answers at once.

The body is a MedBiquitous Activity Report (XML) or its JSON variant (`{"activity_reports": [completion,
...]}`, each completion as POST /v1/completions takes it, its `credit_id` required as in XML). Each record
goes through validation like a batch row; the answer lists, per report, each record's status and codes
(in XML for XML, in JSON for JSON). Records still undecided when the wait ends answer `Processing`, and
GET /v1/records/{id} follows them. A sandbox key's records are validated only: never kept, never at a board.
"""

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from intake.batch_files.model import BatchFileError, refuse_unkeepable
from intake.completions.schemas import RecordAnswer
from intake.dependencies import Broker, CurrentWebService
from intake.errors import AUTHENTICATED, ApiError, errors
from intake.keepable import refuse_unkeepable_records
from intake.keys import Principal
from intake.submitting.completions import dry_run, split_into_records
from intake.validation_client import Validation
from intake.ws.schemas import XML_ANSWER, ActivityReportAnswers, JsonActivityReports, request_body
from shared.events import ReportedRecord
from shared.ids import new_id
from shared.limits import printable

router = APIRouter(prefix="/v1/ws", tags=["web services"], responses=AUTHENTICATED)
WAIT_SECONDS = 10.0


def _xml_reports(data: bytes, provider_id: str, submission_id: UUID) -> list[tuple[int, list[ReportedRecord]]]:
    from intake.batch_files.readers.activity_report import read_activity_report
    try:
        parsed = read_activity_report(data, provider_id=provider_id, batch_id=submission_id, channel="ws")
        refuse_unkeepable(parsed)
    except BatchFileError as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    # Not a batch: no batch ID, so the batch tables never see these records.
    return [(row.number, [r.record.model_copy(update={"batch_id": None, "row_number": None}) for r in row.records])
            for row in parsed.rows]


def _json_reports(data: bytes, provider_id: str, submission_id: UUID) -> list[tuple[int, list[ReportedRecord]]]:
    try:
        body = JsonActivityReports.model_validate_json(data)
    except ValidationError as exc:
        details = [{"field": printable(".".join(str(p) for p in e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        first = details[0]
        raise ApiError(422, "invalid_request", f"The body is not a list of activity reports: {first['field']}: "
                                               f"{first['reason']}.", details) from exc
    reports = []
    for number, completion in enumerate(body.activity_reports, start=1):
        records = split_into_records(completion, provider_id, submission_id)
        refuse_unkeepable_records(records, f"Activity report {number}")
        # Web-service records carry their own credit ID (650 when missing), as the XML does.
        reports.append((number, [r.model_copy(update={"channel": "ws", "credit_id_required": True,
                                                       "credit_id": completion.credit_id}) for r in records]))
    return reports


async def _answers(request: Request, principal: Principal, broker: Any, validation: Any,
                   records: list[ReportedRecord], submission_id: UUID) -> list[RecordAnswer]:
    if principal.sandbox:
        return await dry_run(validation, records)
    answers = await request.app.state.submissions.submit(records, str(submission_id), WAIT_SECONDS)
    assert answers is not None  # no claim to refuse
    return answers


@router.post("/activity-reports", summary="Report activity completions", response_model=ActivityReportAnswers,
             openapi_extra=request_body(), responses={
                 200: {"description": "Per report, each record's status and codes: in XML for an XML body (headers "
                                      "X-Submission-Id, X-Sandbox), in JSON for a JSON one.", "content": XML_ANSWER},
                 **errors(403, 422, e403="Not a web-service key (pars provider key --web-service).",
                          e422="The body is not an Activity Report: XML not well formed or not the schema's, or "
                               "JSON that is not a list of completions; the message says where.")})
async def report_activities(request: Request, principal: CurrentWebService, broker: Broker,
                           validation: Validation) -> Response:
    assert principal.provider_id is not None
    data = await request.body()  # at most WEB_SERVICE_BODY_BYTES: the BodyLimit middleware answers 413 beyond
    as_json = "json" in request.headers.get("content-type", "")
    submission_id = new_id()
    reports = (_json_reports if as_json else _xml_reports)(data, principal.provider_id, submission_id)
    records = [r for _, rs in reports for r in rs]
    answers = iter(await _answers(request, principal, broker, validation, records, submission_id))
    results = [(number, rs, [next(answers) for _ in rs]) for number, rs in reports]
    if as_json:
        return JSONResponse({"submission_id": str(submission_id), "sandbox": principal.sandbox, "results": [
            {"index": number, "credit_id": rs[0].credit_id if rs else None,
             "records": [json.loads(a.model_dump_json()) for a in answered]}
            for number, rs, answered in results]})
    from intake.batch_files.writers.activity_report import ReportResult, activity_report_results_xml
    document = activity_report_results_xml([
        ReportResult(index=number, credit_id=rs[0].credit_id if rs else None,
                     records=[(a.target, str(a.record_id), a.status, [(e["code"], e["message"]) for e in a.errors])
                              for a in answered])
        for number, rs, answered in results])
    return Response(document, media_type="application/xml",
                    headers={"X-Submission-Id": str(submission_id), "X-Sandbox": str(principal.sandbox).lower()})
