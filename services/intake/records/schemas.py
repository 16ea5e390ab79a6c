"""What the record routes answer and which filter values they take (CONTRACT.md, Records).

The models document the JSON the routes build from the projection's rows (records/router.py); the routes answer it
as built, so the bytes stay as they were (dates as Python writes them).
"""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, Field

from shared.limits import ID_CHARS

# Every status a record can have (shared.lifecycle.RecordStatus); anything else is a 422. Deleted records and those
# PARS rejected are in no list, so those two filters answer none.
StatusName = Literal["Submitted", "Accepted", "Rejected", "Delete Submitted", "Deleted", "Rejected by PARS"]
RecordSort = Literal["board", "-board", "name", "-name", "completion", "-completion", "submission", "-submission",
                     "status", "-status"]
# Boards come with the catalogue and world files, so any code may be one: a filter that could not be a code is the 422.
BOARD_CODE = r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$"
BoardFilter = Annotated[str | None, Query(pattern=BOARD_CODE, max_length=ID_CHARS, description=(
    "A board's, state's or REMS program's code (ABOHNS, LA, OPIOID), case forgiven: letters, digits, `.`, `_`, `-`, "
    "spaces."))]
StatusFilter = Annotated[StatusName | None, Query(description=(
    "Records in this status only. Listed records are Submitted, Accepted, Rejected or Delete Submitted; Deleted and "
    "Rejected by PARS records are in no list (GET /v1/records/{record_id} finds the latter)."))]


class CodedError(BaseModel):
    code: str = Field(description="The PARS code (630, 706...).")
    message: str


class RecordItem(BaseModel):
    record_id: UUID
    credit_id: str | None
    activity_id: str | None
    board: str = Field(description="The target's code: an MOC board, a state, a REMS program.")
    first_name: str | None
    last_name: str | None
    dob: str | None = Field(description="MM/DD")
    learner_id: str | None
    completion_date: date | None
    submitted_at: datetime
    credits: float | None = Field(description="null only for a record PARS rejected")
    credit_types: dict[str, float] | None = Field(description="null only for a record PARS rejected")
    status: str = Field(description="Submitted, Accepted, Rejected, Delete Submitted; Rejected by PARS on "
                                    "GET /v1/records/{record_id} alone.")
    errors: list[CodedError]


class RecordPage(BaseModel):
    total: int = Field(description="Records under the filters, on every page.")
    page: int
    per_page: int
    items: list[RecordItem]


class RecordEvent(BaseModel):
    event_id: UUID
    event_type: str = Field(description="RecordSubmitted, RecordAccepted, RecordRejected, DeleteSubmitted...")
    occurred_at: datetime
    errors: list[CodedError]


class RecordWithHistory(RecordItem):
    history: list[RecordEvent] = Field(description="Every event of the record, oldest first.")


class DeletedRecord(BaseModel):
    record_id: UUID
    status: str = Field(description="Delete Submitted, Deleted, or Processing when validation had not decided yet.")


class DeleteFailure(BaseModel):
    code: str
    message: str


class DeleteOutcome(BaseModel):
    """One record's result: `status` when deleted, `error` when not; `http_status` what deleting it alone answers."""

    record_id: UUID
    http_status: int = Field(description="202, 404, 409 or 422")
    status: str | None = Field(default=None, description="Delete Submitted, Deleted or Processing (202 only).")
    error: DeleteFailure | None = Field(default=None, description="Why it was not deleted (404, 409, 422).")


class DeleteOutcomes(BaseModel):
    results: list[DeleteOutcome] = Field(description="One result per record, in the order asked.")
