"""The rows of a batch's rejection and success files (storage.row_outcomes), on real PostgreSQL: the right rows, and a
plan that reads the batch's records once even when the table's statistics predate the batch (right after an upload,
before autovacuum analyzed it: the old statement's nested loop then took 14-38 s for 5,000 rows)."""

import io
import threading
from uuid import UUID, uuid4

import asyncpg
import pytest
from openpyxl import load_workbook

from intake.batch_files.model import Layout, RowOutcome
from intake.batch_files.writers import outcome_files
from intake.batches import service, storage
from intake.batches.tests.conftest import P
from shared.db import create_pool, migrate
from shared.service_registry import INTAKE
from shared.settings import Settings

pytestmark = pytest.mark.integration


async def _batch(pool: asyncpg.Pool, rows: int, outcomes: dict[int, list[str | None]]) -> UUID:
    """A batch of `rows` rows; row n reported a record per entry of outcomes.get(n, [None]) with that outcome."""
    batch_id = uuid4()
    await pool.execute("INSERT INTO batches (batch_id, provider_id, file_name, format, status)"
                       " VALUES ($1, $2, 'b.xlsx', 'xlsx', 'processing')", batch_id, P)
    await pool.executemany("INSERT INTO batch_rows (batch_id, row_number, cells) VALUES ($1, $2, $3)",
                           [(batch_id, n, [f"cell{n}", "x"]) for n in range(rows)])
    await pool.executemany(
        "INSERT INTO batch_records (record_id, batch_id, row_number, target, own_cells, outcome, errors)"
        " VALUES ($1, $2, $3, 'MD', $4, $5, $6)",
        [(uuid4(), batch_id, n, [i], outcome, [{"code": "661"}] if outcome == "rejected" else [])
         for n in range(rows) for i, outcome in enumerate(outcomes.get(n, [None]))])
    return batch_id


async def test_each_file_has_the_rows_with_a_record_of_its_outcome_and_what_became_of_the_others(
        intake_pool: asyncpg.Pool) -> None:
    pool = intake_pool
    batch_id = await _batch(pool, 5, {0: ["added"], 1: ["added", "rejected"], 2: ["rejected"], 3: ["added"],
                                      4: ["rejected", "rejected"]})
    rejected = await storage.row_outcomes(pool, batch_id, "rejected")
    added = await storage.row_outcomes(pool, batch_id, "added")
    assert [r.number for r in rejected] == [1, 2, 4]
    assert [r.number for r in added] == [0, 1, 3]
    mixed = next(r for r in rejected if r.number == 1)
    assert (mixed.added, mixed.added_cells, mixed.rejected_cells, mixed.cells) == (True, {0}, {1}, ["cell1", "x"])
    assert [len(r.errors) for r in rejected] == [1, 1, 2]


async def test_the_files_rows_are_read_without_a_nested_loop_when_statistics_predate_the_batch(
        settings: Settings) -> None:
    schema = settings.schema("rowplans")
    pool = await create_pool(settings.database_url, schema)
    try:
        await migrate(pool, schema, INTAKE.package)
        await pool.execute("INSERT INTO providers (id, name, email) VALUES ($1, 'p', 'p@example.org')", P)
        await _batch(pool, 2000, {})
        await pool.execute("ANALYZE batch_records")  # what the planner knows: one batch, nothing validated
        batch_id = await _batch(pool, 2000, {n: ["added"] for n in range(2000)})
        async with pool.acquire() as conn:
            plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + storage._ROW_OUTCOMES, batch_id, "rejected"))
        assert "Nested Loop" not in plan, plan
        assert plan.count(" on batch_records") == 1, plan  # the batch's records, read once
        assert [r.number for r in await storage.row_outcomes(pool, batch_id, "added")] == list(range(2000))
    finally:
        await pool.close()


def _sheet(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))


async def test_a_batchs_file_is_written_off_the_event_loop(intake_pool: asyncpg.Pool,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's and the portal's downloads write the file in a worker thread: 4,000 rows took 0.5-0.6 s, nearly all
    openpyxl's, which every other request to the process waited through on the loop. The file is what outcome_file
    writes."""
    batch_id = await _batch(intake_pool, 30, {n: ["rejected"] for n in range(0, 30, 3)})
    await intake_pool.execute("UPDATE batches SET layout = $2 WHERE batch_id = $1", batch_id, Layout.TEMPLATE_B.value)
    await intake_pool.execute("""UPDATE batch_records SET errors = '[{"code": "661", "message": "Not found."}]'"""
                              " WHERE batch_id = $1 AND outcome = 'rejected'", batch_id)
    batch = await storage.get_batch(intake_pool, batch_id, P)
    assert batch is not None
    writers: list[int] = []

    def writing(batch: asyncpg.Record, outcomes: list[RowOutcome], *, rejected: bool) -> outcome_files.WrittenFile:
        writers.append(threading.get_ident())
        return outcome_files.outcome_file(batch, outcomes, rejected=rejected)

    monkeypatch.setattr(service, "outcome_file", writing)
    written = await service.outcome_file_of(intake_pool, batch, rejected=True)
    assert writers and threading.get_ident() not in writers
    alike = outcome_files.outcome_file(batch, await storage.row_outcomes(intake_pool, batch_id, "rejected"),
                                       rejected=True)
    assert written.file_name == alike.file_name == "b-rejections.xlsx"
    assert (rows := _sheet(written.content)) == _sheet(alike.content)
    assert [r[0] for r in rows[1:]] == [f"cell{n}" for n in range(0, 30, 3)]
