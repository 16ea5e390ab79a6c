"""The intake schema's batch tables: the upload history, each file's rows, and each record's outcome."""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from intake.batch_files.model import ParsedBatch, RowOutcome
from shared.db import Connection

if TYPE_CHECKING:
    from intake.batches.service import QueuedRow  # which imports this module

BATCH_COLUMNS = ("batch_id, provider_id, file_name, format, layout, status, reason, records, added, rejected,"
                 " uploaded_at, completed_at")


@dataclass(frozen=True)
class Outcome:
    record_id: UUID
    outcome: str  # added | rejected
    errors: list[dict[str, str]]


async def record_failed(pool: asyncpg.Pool, batch_id: UUID, provider_id: str, file_name: str, file_format: str,
                        reason: str) -> None:
    """A file that could not be a batch stays in the history, failed, with the reason it was refused."""
    await pool.execute(
        "INSERT INTO batches (batch_id, provider_id, file_name, format, status, reason, completed_at)"
        " VALUES ($1, $2, $3, $4, 'failed', $5, clock_timestamp())",
        batch_id, provider_id, file_name, file_format, reason)


async def save_batch(conn: Connection, batch_id: UUID, provider_id: str, file_name: str,
                     parsed: "ParsedBatch[QueuedRow]") -> None:
    """The batch, its rows as they came and its records, written in the transaction that queues them; `parsed` is
    service.parse_to_queue's (rows of QueuedRecords). Only this writes rows and records, each with its batch, so
    their tables keep no foreign key to `batches` (a check a row copied in: migration 0006)."""
    await conn.execute(
        "INSERT INTO batches (batch_id, provider_id, file_name, format, layout, status, records, preamble, header)"
        " VALUES ($1, $2, $3, $4, $5, 'processing', $6, $7, $8)",
        batch_id, provider_id, file_name, parsed.format.value, parsed.layout.value, parsed.record_count,
        parsed.preamble, parsed.header)
    await conn.copy_records_to_table(
        "batch_rows", columns=["batch_id", "row_number", "cells"],
        records=[(batch_id, row.number, row.cells) for row in parsed.rows])
    await conn.copy_records_to_table(
        "batch_records", columns=["record_id", "batch_id", "row_number", "target", "own_cells"],
        records=[(r.record_id, batch_id, row.number, r.target, r.own_cells)
                 for row in parsed.rows for r in row.records])


# `coalesce(outcome, '') = ''`, not `outcome IS NULL`: the column's statistics are always out of date. Autovacuum
# analyzes the table between uploads, when every record has its outcome, so PostgreSQL reckoned that no row lacked
# one. With `IS NULL` it then planned a nested loop that read the statement's outcomes again for each record without
# one: 661 ms for 400 outcomes against 25,000 records, and 38 s of intake's tallies while four files were ingested
# after one upload (docs/PERFORMANCE.md). An expression has no statistics, so the planner assumes a small share and
# joins by hash or by the primary key, as the table's size says.
NOTE_OUTCOMES = (
    "WITH noted AS (UPDATE batch_records b SET outcome = o.outcome, errors = o.errors::jsonb"
    " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS o(record_id, outcome, errors)"
    " WHERE b.record_id = o.record_id AND coalesce(b.outcome, '') = '' RETURNING b.batch_id, o.outcome),"
    " tallied AS (UPDATE batches b SET added = b.added + n.added, rejected = b.rejected + n.rejected,"
    " status = CASE WHEN b.added + n.added + b.rejected + n.rejected >= b.records THEN 'complete'"
    " ELSE b.status END,"
    " completed_at = CASE WHEN b.added + n.added + b.rejected + n.rejected >= b.records"
    "   THEN coalesce(b.completed_at, clock_timestamp()) END"
    " FROM (SELECT batch_id, count(*) FILTER (WHERE outcome = 'added') AS added,"
    "       count(*) FILTER (WHERE outcome = 'rejected') AS rejected FROM noted GROUP BY batch_id) n"
    " WHERE b.batch_id = n.batch_id RETURNING n.added + n.rejected AS records)"
    " SELECT coalesce(sum(records), 0) FROM tallied"
)


def outcome_arguments(outcomes: list[Outcome]) -> tuple[list[UUID], list[str], list[str]]:
    return [o.record_id for o in outcomes], [o.outcome for o in outcomes], [json.dumps(o.errors) for o in outcomes]


async def apply_outcomes(conn: Connection, outcomes: list[Outcome]) -> int:
    """Note what validation decided; a record's first outcome holds (redeliveries change nothing). Answers how many
    records' outcomes were new.

    Each batch's tallies grow by the outcomes this statement noted, in the one statement: with several intake
    processes, two of them note outcomes of one batch at once (its records are on several partitions), and an
    UPDATE that waited for the other's row lock adds to the row that one committed (a recount would count from its
    own snapshot, which lacks the other's outcomes, and leave the batch short)."""
    return int(await conn.fetchval(NOTE_OUTCOMES, *outcome_arguments(outcomes)))


async def get_batch(pool: asyncpg.Pool, batch_id: UUID, provider_id: str | None) -> asyncpg.Record | None:
    """One batch; another provider's batch does not exist for this one (provider_id None: an operator)."""
    row = await pool.fetchrow(f"SELECT {BATCH_COLUMNS}, preamble, header FROM batches WHERE batch_id = $1", batch_id)
    if row is None or (provider_id is not None and row["provider_id"] != provider_id):
        return None
    return row


async def history(pool: asyncpg.Pool, provider_id: str | None, limit: int, offset: int) -> tuple[int, list[Any]]:
    where, args = ("WHERE provider_id = $1", [provider_id]) if provider_id is not None else ("", [])
    total = await pool.fetchval(f"SELECT count(*) FROM batches {where}", *args)
    rows = await pool.fetch(f"SELECT {BATCH_COLUMNS} FROM batches {where} ORDER BY uploaded_at DESC, batch_id"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *args)
    return total, rows


# The batch's records read once, in row order, each row's kept if any of its records has the outcome. Said as
# "row_number IN (rows with that outcome)" the planner, with statistics from before the batch's 5,000 records were
# there (autovacuum had not analyzed the table yet: right after an upload), expected one row each side and joined
# them in a nested loop: 25 million comparisons, 14-38 s for a rejection file instead of 15-40 ms.
_ROW_OUTCOMES = """
SELECT row_number, own_cells, outcome, errors FROM (
    SELECT *, bool_or(outcome = $2) OVER (PARTITION BY row_number) AS wanted FROM batch_records WHERE batch_id = $1
) r WHERE wanted ORDER BY row_number, record_id
"""


async def row_outcomes(pool: asyncpg.Pool, batch_id: UUID, outcome: str) -> list[RowOutcome]:
    """Each row with a record of this `outcome` (added | rejected) as it came, with what became of every record it
    reported: what that outcome's file holds. A batch of 5,000 rows with few rejected reads only those rows' cells."""
    async with pool.acquire() as conn:
        records = await conn.fetch(_ROW_OUTCOMES, batch_id, outcome)
        numbers = sorted({r["row_number"] for r in records})
        rows = await conn.fetch("SELECT row_number, cells FROM batch_rows WHERE batch_id = $1"
                                " AND row_number = ANY($2::integer[]) ORDER BY row_number", batch_id, numbers)
    result = {r["row_number"]: RowOutcome(r["row_number"], list(r["cells"]), set(), set(), False, [])
              for r in rows}
    for record in records:
        row = result[record["row_number"]]
        if record["outcome"] == "rejected":
            row.rejected_cells.update(record["own_cells"])
            row.errors += record["errors"]
        elif record["outcome"] == "added":
            row.added_cells.update(record["own_cells"])
            row.added = True
    return list(result.values())
