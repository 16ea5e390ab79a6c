"""An upload's parse turns each row's records into their messages as the row is read (service.parse_to_queue):
the same rows, records and messages as parsing whole and then building them, and the same file refused with the
same error, whichever problem comes first. And each outcome file reads only the rows it holds."""

import io
import json
from uuid import UUID, uuid4

import asyncpg
import openpyxl
import pytest

from intake.batch_files.model import BatchFileError
from intake.batch_files.read import parse
from intake.batch_files.tests.hostile import CME_MOC, CME_ROW, GUIDANCE, TB_ROW, TEMPLATE_B, txt_bytes, xlsx_bytes
from intake.batch_files.writers.outcome_files import outcome_file
from intake.batches import storage
from intake.batches.service import QueuedRow, accept_batch, parse_to_queue
from intake.batches.storage import Outcome, apply_outcomes
from intake.batches.tests.conftest import P
from intake.submitting.messages import submission
from shared.outbox import Outbox
from shared.service_registry import INTAKE
from shared.settings import Settings

BATCH = UUID("7f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b")
REMS = ["REMS Program", "Learner Local ID"]
CME_WITH_REMS = [*CME_ROW, "SOMEREMS", "L-1"]  # a row of three targets: state licence, board, REMS


def _without_ids(message: bytes) -> dict:
    command = json.loads(message)
    for key in ("event_id", "occurred_at", "record_id"):
        command.pop(key, None)
    command["record"].pop("record_id")
    return command


@pytest.mark.parametrize(("name", "data"), [
    ("b.xlsx", xlsx_bytes([TEMPLATE_B] + [TB_ROW] * 30)),
    ("b.txt", txt_bytes([TEMPLATE_B, TB_ROW, [], TB_ROW])),
    ("c.xlsx", xlsx_bytes([GUIDANCE, CME_MOC + REMS, CME_WITH_REMS, CME_ROW])),
])
def test_queued_rows_hold_what_the_parsed_records_would_send(name: str, data: bytes) -> None:
    settings = Settings()
    whole, queued = parse(name, data, P, BATCH), parse_to_queue(settings, name, data, P, BATCH)
    assert (queued.format, queued.layout, queued.preamble, queued.header, queued.record_count) == (
        whole.format, whole.layout, whole.preamble, whole.header, whole.record_count)
    assert all(isinstance(row, QueuedRow) for row in queued.rows)
    assert [(r.number, list(r.cells)) for r in queued.rows] == [(r.number, r.cells) for r in whole.rows]
    for q_row, w_row in zip(queued.rows, whole.rows, strict=True):
        for q, w in zip(q_row.records, w_row.records, strict=True):
            expected = submission(settings, w.record, str(BATCH))
            assert (q.target, list(q.own_cells)) == (w.record.target.code, sorted(w.own_cells))
            assert json.loads(q.message.value)["record"]["record_id"] == str(q.record_id)
            assert _without_ids(q.message.value) == _without_ids(expected.value)
            assert (q.message.topic, q.message.key, q.message.headers) == (
                expected.topic, expected.key, expected.headers)


BAD_NAME = [*TB_ROW[:6], "x" * 300, *TB_ROW[7:]]  # a last name no service keeps (over 100 characters)
BAD_CELL = [*TB_ROW, "note_x0001_"]  # an xlsx cell that reads back as U+0001


@pytest.mark.parametrize(("name", "rows", "expected"), [
    ("row.xlsx", [[*TEMPLATE_B, "Notes"], TB_ROW, BAD_CELL, BAD_NAME], "Row 3, column 18"),  # the first bad row
    ("name.xlsx", [TEMPLATE_B, TB_ROW, BAD_NAME, BAD_NAME], "Row 3: last_name holds 300 characters"),
    ("header.xlsx", [[*TEMPLATE_B, "Notes_x0002_"], BAD_NAME], "The header, column 18"),  # before any row
    ("preamble.xlsx", [["guide_x0003_"], CME_MOC, [*CME_ROW[:4], "x" * 300, *CME_ROW[5:]]],
     "Row 1 (above the header), column 1"),
    ("limit.xlsx", [TEMPLATE_B, BAD_NAME, *[TB_ROW] * 5000], "The file has more than 5,000"),  # the parser's
    # own errors come first, as they did when every row was checked after the whole file was read
    ("long.xlsx", [TEMPLATE_B, BAD_NAME, [*TB_ROW[:6], "x" * 3000, *TB_ROW[7:]]], "Row 3, column G"),
])
def test_the_same_file_is_refused_with_the_same_error(name: str, rows: list[list[str]], expected: str) -> None:
    data = xlsx_bytes(rows)
    with pytest.raises(BatchFileError) as whole:
        parse(name, data, P, BATCH)
    with pytest.raises(BatchFileError) as queued:
        parse_to_queue(Settings(), name, data, P, BATCH)
    assert (queued.value.code, queued.value.message) == (whole.value.code, whole.value.message)
    assert queued.value.message.startswith(expected)


def _sheets(xlsx: bytes) -> list[list[tuple[object, ...]]]:
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx), read_only=True)
    return [list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets]


async def test_each_outcome_file_reads_only_its_rows_and_writes_what_all_rows_would(
        settings: Settings, intake_pool: asyncpg.Pool) -> None:
    """Rows: a licence added and a board rejected; all added; all rejected; not decided yet."""
    pool, schema = intake_pool, settings.schema(INTAKE.schema)
    batch_id = uuid4()
    data = xlsx_bytes([CME_MOC, CME_ROW, CME_ROW, CME_ROW, CME_ROW])
    parsed = parse_to_queue(settings, "c.xlsx", data, P, batch_id)
    await accept_batch(pool, Outbox(schema), batch_id, P, "c.xlsx", parsed)
    rejected = [{"code": "661", "message": "not on the roster"}]
    decided = {0: ("added", "rejected"), 1: ("added", "added"), 2: ("rejected", "rejected")}
    async with pool.acquire() as conn:
        await apply_outcomes(conn, [Outcome(r.record_id, outcome, rejected if outcome == "rejected" else [])
                                    for i, outcomes in decided.items()
                                    for r, outcome in zip(parsed.rows[i].records, outcomes, strict=True)])
    batch = await storage.get_batch(pool, batch_id, P)
    numbers = [row.number for row in parsed.rows]
    rejections = await storage.row_outcomes(pool, batch_id, "rejected")
    additions = await storage.row_outcomes(pool, batch_id, "added")
    assert [o.number for o in rejections] == [numbers[0], numbers[2]]
    assert [o.number for o in additions] == [numbers[0], numbers[1]]
    every = sorted({o.number: o for o in rejections + additions}.values(), key=lambda o: o.number)
    for rejected_file, chosen in ((True, rejections), (False, additions)):
        only, whole = (outcome_file(batch, rows, rejected=rejected_file) for rows in (chosen, every))
        # The same file but for the workbook's creation time, which two writes a second apart differ in.
        assert (only.file_name, only.media_type, _sheets(only.content)) == (whole.file_name, whole.media_type,
                                                                        _sheets(whole.content))
    assert rejections[0].errors == rejected and rejections[0].added_cells and rejections[0].rejected_cells
