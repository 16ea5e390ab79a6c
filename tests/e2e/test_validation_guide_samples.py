"""The PARS guide's Template B rows (../shared/pars/samples-from-guide.tsv) give the codes in their last column.

The rows go in as intake's batch channel will put them on pars.submissions (channel "batch", Template B's
Learner ID Type and Activity Registration kept, the DOB cell as Excel shows it, a credit ID derived from
the row). The 2019 rows are checked with PARS's clock in January 2020, the 2021 Delete in December 2021.
"""

import asyncio
import csv
import io
import uuid
from pathlib import Path

import pytest

from intake.batch_files.readers.credit_ids import derived_credit_id
from shared.events import CreditTypeClaim, ReportedRecord, SubmitRecord, Target
from tests.e2e.conftest import Stack
from tests.e2e.test_validation_codes import publish_and_await

pytestmark = pytest.mark.e2e
SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "data" / "samples-from-guide.tsv"
P = "0008001"
WORLD = {
    "providers": [{"id": P, "name": "Western Regional Medical Center", "email": "cme@wrmc.example"}],
    "activities": [
        {"id": "200608132", "provider_id": P, "title": "Pathology review", "start_date": "2019-09-01",
         "end_date": "2019-12-31", "moc_credits": 12, "moc": {"ABPATH": ["Lifelong Learning"]}},
        {"id": "200931446", "provider_id": P, "title": "Ophthalmology enduring", "format": "Enduring Material",
         "start_date": "2019-01-01", "end_date": "2021-12-31", "moc_credits": 1, "moc": {"ABO": ["Lifelong Learning"]}},
    ],
    "physicians": [
        # ABPath's roster has other birthdays than the ones the provider reported (the guide's 664 rows).
        {"first_name": "Test5", "last_name": "Account5", "dob": "06/12",
         "certifications": [{"board": "ABPATH", "id": "1000109"}]},
        {"first_name": "Test8", "last_name": "Account8", "dob": "09/20",
         "certifications": [{"board": "ABPATH", "id": "1000112"}]},
        {"first_name": "Test9", "last_name": "Account9", "dob": "10/01",
         "certifications": [{"board": "ABPATH", "id": "1000113"}]},
        {"first_name": "Vincent", "last_name": "Van Gogh", "dob": "03/30",
         "certifications": [{"board": "ABO", "id": "98989"}]},
        {"first_name": "Georgia", "last_name": "O'Keeffe", "dob": "11/15",
         "certifications": [{"board": "ABO", "id": "97979"}]},
        {"first_name": "John", "last_name": "O'Keeffe", "dob": "04/08",
         "certifications": [{"board": "ABO", "id": "96969"}]},
    ],
}


def rows() -> list[dict[str, str]]:
    text = "".join(line for line in SAMPLES.open(encoding="utf-8") if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def as_submission(row: dict[str, str], action: str | None = None) -> tuple[bytes, uuid.UUID]:
    board = row["Activity Registration"].upper()
    record = ReportedRecord(
        record_id=uuid.uuid4(), submission_id=uuid.uuid4(), provider_id=P, channel="batch",
        action=action or row["Action"], activity_id=row["ACCME Activity ID"], first_name=row["First Name"],
        last_name=row["Last Name"], dob=row["Date of Birth"], completion_date=row["Date of Completion"],
        target=Target(kind="moc", code=board), learner_id=row["Learner ID"], learner_id_type=row["Learner ID Type"],
        registration=row["Activity Registration"], credits=row["Number of Credits"],
        credit_types=[CreditTypeClaim(name=row["Activity Certification (1st)"])],
        credit_id=derived_credit_id(P, row["ACCME Activity ID"], board, row["Learner ID"], row["Date of Completion"]),
    )
    command = SubmitRecord(record=record, correlation_id=str(record.submission_id), provider_id=P,
                           record_id=record.record_id, submission_id=record.submission_id)
    return command.to_bytes(), record.record_id


async def outcome(stack: Stack, row: dict[str, str], action: str | None = None) -> list[str]:
    value, record_id = as_submission(row, action)
    event = await publish_and_await(stack, value, record_id, f"{P}:{row['Learner ID']}".encode())
    return [e["code"] for e in event.get("errors", [])]


def set_today(stack: Stack, today: str) -> None:
    stack.processes["validation"].stop()
    stack.processes["validation"].env["PARS_TODAY"] = today
    stack.restart("validation")


async def test_validation_of_the_guides_sample_rows(fresh_stack: Stack) -> None:
    stack = fresh_stack
    stack.load_world(WORLD)
    samples = rows()
    assert len(samples) == 6

    set_today(stack, "2020-01-15")
    for row in samples[:5]:
        expected = [row["Expected Error Code"]] if row["Expected Error Code"] else []
        assert await outcome(stack, row) == expected, row

    set_today(stack, "2021-12-01")
    delete_row = samples[5]
    assert delete_row["Action"] == "Delete" and not delete_row["Expected Error Code"]
    assert await outcome(stack, delete_row, action="Add") == []  # the record the guide's Delete names
    for _ in range(40):  # until validation hears that ABO accepted it, the record is still with ABO (998)
        codes = await outcome(stack, delete_row)
        if codes != ["998"]:
            break
        await asyncio.sleep(0.5)
    assert codes == []  # Delete Submitted: ABO processes deletes
