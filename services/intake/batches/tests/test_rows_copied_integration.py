"""A file's rows and records go into their tables without a trigger a row: a foreign key to `batches` checked each
row as it was copied in (0.3-0.4 s of PostgreSQL's CPU for a 5,000-row file, on the way to the upload's 202), and
guarded nothing: only the upload that inserts the batch writes them, in its transaction."""

from uuid import uuid4

import asyncpg
import pytest

from intake.batches.tests.conftest import P

pytestmark = pytest.mark.integration

ROWS = 200


@pytest.mark.parametrize(("table", "select"), [
    ("batch_rows (batch_id, row_number, cells)",
     "SELECT $1::uuid, g, ARRAY['cell', g::text] FROM generate_series(1, $2) g"),
    ("batch_records (record_id, batch_id, row_number, target)",
     "SELECT gen_random_uuid(), $1::uuid, g, 'ABIM' FROM generate_series(1, $2) g"),
])
async def test_a_files_rows_are_written_without_a_check_a_row(intake_pool: asyncpg.Pool, table: str,
                                                             select: str) -> None:
    async with intake_pool.acquire() as conn:
        undone = conn.transaction()  # EXPLAIN ANALYZE runs the INSERT: undone after
        await undone.start()
        try:
            batch_id = uuid4()
            await conn.execute("INSERT INTO batches (batch_id, provider_id, file_name, format, status, records)"
                               " VALUES ($1, $2, 'b.xlsx', 'xlsx', 'processing', $3)", batch_id, P, ROWS)
            explained = (await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO {table} {select}",
                                             batch_id, ROWS))[0]
            inserted = await conn.fetchval(f"SELECT count(*) FROM {table.split()[0]} WHERE batch_id = $1", batch_id)
        finally:
            await undone.rollback()
    assert inserted == ROWS
    assert explained.get("Triggers", []) == [], explained["Triggers"]
