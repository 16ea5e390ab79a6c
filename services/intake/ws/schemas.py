"""What POST /v1/ws/activity-reports takes and answers in JSON (the XML is the MedBiquitous Activity Report's).

The route reads its body itself (XML or JSON, told by Content-Type), so its request body is documented here rather
than taken as a parameter.
"""

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from intake.batch_files.model import MAX_RECORDS
from intake.completions.schemas import Completion, RecordAnswer


class JsonActivityReports(BaseModel):
    activity_reports: list[Completion] = Field(min_length=1, max_length=MAX_RECORDS)


class ReportResult(BaseModel):
    index: int = Field(description="The report's place in the body, from 1.")
    credit_id: str | None
    records: list[RecordAnswer] = Field(description="One per target; Processing when validation had not decided "
                                                    "when the wait ended (GET /v1/records/{record_id} follows it).")


class ActivityReportAnswers(BaseModel):
    submission_id: UUID
    sandbox: bool = Field(description="True for a sandbox key: validated and answered, never kept.")
    results: list[ReportResult]


_XML = {"schema": {"type": "string", "description": "A MedBiquitous Activity Report (XML)."}}


def request_body() -> dict[str, Any]:
    """The route's `openapi_extra`: both bodies it reads. The completion's schemas are the app's own components (POST
    /v1/completions takes them), so the JSON variant refers to them."""
    schema = JsonActivityReports.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/xml": _XML, "application/json": {
        "schema": schema}}}}


XML_ANSWER = {"application/xml": {"schema": {"type": "string", "description": "The Activity Report's results, per "
                                                                           "learner record."}}}
