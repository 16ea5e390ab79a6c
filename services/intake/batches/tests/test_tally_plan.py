"""The tally's statement stays a join by hash or by key when the table's statistics say every record has its
outcome, which they say whenever autovacuum analyzed it between uploads."""

from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from intake.batches.storage import NOTE_OUTCOMES, Outcome, apply_outcomes, outcome_arguments
from intake.batches.tests.conftest import P
from shared.db import Connection
from tests.support import plan_nodes

pytestmark = pytest.mark.integration


async def _new_batch(conn: Connection, records: int, outcome: str | None) -> list[Any]:
    batch_id = uuid4()
    await conn.execute("INSERT INTO batches (batch_id, provider_id, file_name, format, status, records)"
                       " VALUES ($1, $2, 'b.xlsx', 'xlsx', 'processing', $3)", batch_id, P, records)
    return [r[0] for r in await conn.fetch(
        "INSERT INTO batch_records (record_id, batch_id, row_number, target, outcome)"
        " SELECT gen_random_uuid(), $1, g, 'ABIM', $2 FROM generate_series(1, $3) g RETURNING record_id",
        batch_id, outcome, records)]


async def test_outcomes_of_a_new_upload_are_noted_without_reading_the_table_once_per_outcome(
        intake_pool: asyncpg.Pool) -> None:
    async with intake_pool.acquire() as conn:
        await _new_batch(conn, 20_000, "added")
        await conn.execute("ANALYZE batch_records")  # every record has its outcome: what autovacuum saw
        fresh = await _new_batch(conn, 5_000, None)
        outcomes = [Outcome(record_id, "added", []) for record_id in fresh[:400]]
        explained = conn.transaction()  # EXPLAIN ANALYZE runs the UPDATE: undone after
        await explained.start()
        try:
            # the pool's codec decodes the json column
            plan = (await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {NOTE_OUTCOMES}",
                                        *outcome_arguments(outcomes)))[0]["Plan"]
        finally:
            await explained.rollback()
        rescanned = [(n["Node Type"], n["Actual Loops"]) for n in plan_nodes(plan)
                     if n["Node Type"] in ("Seq Scan", "Function Scan") and n["Actual Loops"] > 1]
        assert rescanned == []  # before: the 400 outcomes read again for each of 5,000 open records
        assert await apply_outcomes(conn, outcomes) == 400
