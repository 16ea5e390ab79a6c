"""DELETE /v1/records: a provider withdraws records; each goes through validation as a Delete.

A record still with its board (Submitted, or its delete pending) answers 409; past the board's delete
deadline, 422 with PARS's 706; otherwise 202 with its new status (Delete Submitted, or Deleted at once
for a rejected record or one no board processes).
"""

from typing import Any
from uuid import UUID

import asyncpg

from intake.completions.schemas import RecordAnswer
from intake.keys import Principal
from intake.records import queries
from intake.submitting.writer import Submissions
from shared.events import ReportedRecord, Target
from shared.ids import new_id
from shared.lifecycle import WITH_BOARD, RecordStatus

WAIT_SECONDS = 5.0


def delete_of(row: asyncpg.Record, submission_id: UUID) -> ReportedRecord:
    """The Delete that repeats the original's credit ID and fields."""
    return ReportedRecord(
        record_id=new_id(), submission_id=submission_id, provider_id=row["provider_id"], action="Delete",
        credit_id=row["credit_id"], activity_id=row["activity_id"], first_name=row["first_name"],
        last_name=row["last_name"], dob=row["dob"], completion_date=row["completion_date"].isoformat(),
        target=Target(kind=row["target_kind"], code=row["board"]), learner_id=row["learner_id"])


def result(record_id: UUID, status: int, code: str, message: str, new_status: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"record_id": str(record_id), "http_status": status}
    if new_status:
        body["status"] = new_status
    else:
        body["error"] = {"code": code, "message": message}
    return body


def _answer(record_id: UUID, answer: RecordAnswer) -> dict[str, Any]:
    if answer.status == "Processing":  # validation had not decided when the wait ended
        return result(record_id, 202, "", "", "Processing")
    if answer.status in (RecordStatus.DELETE_SUBMITTED, RecordStatus.DELETED):
        return result(record_id, 202, "", "", answer.status)
    codes = {e["code"]: e["message"] for e in answer.errors}
    if "706" in codes:
        return result(record_id, 422, "706", codes["706"])
    if "998" in codes:  # its board answered after all: it is still with the board
        return result(record_id, 409, "record_with_board", "The record is still with its board; try again later.")
    code, message = next(iter(codes.items()), ("999", "General learner record processing error."))
    return result(record_id, 422, code, message)


async def delete_records(pool: asyncpg.Pool, schema: str, submissions: Submissions, principal: Principal,
                         record_ids: list[UUID]) -> list[dict[str, Any]]:
    results: dict[UUID, dict[str, Any]] = {}
    deletes: dict[UUID, ReportedRecord] = {}
    submission_id = new_id()
    rows = await queries.guarded(queries.get_records(pool, schema, principal, record_ids))
    for record_id in record_ids:
        row = rows.get(record_id)
        if row is None:
            results[record_id] = result(record_id, 404, "not_found", f"No record {record_id}.")
        elif row["status"] in WITH_BOARD:  # its board has yet to answer
            results[record_id] = result(record_id, 409, "record_with_board",
                                        f"The record is {row['status']}: it can be deleted once its board has"
                                        " answered.")
        else:
            deletes[record_id] = delete_of(row, submission_id)
    if deletes:
        answers = await submissions.submit(list(deletes.values()), str(submission_id), WAIT_SECONDS)
        assert answers is not None  # no claim to refuse
        for record_id, answer in zip(deletes, answers, strict=True):
            results[record_id] = _answer(record_id, answer)
    return [results[r] for r in record_ids]
