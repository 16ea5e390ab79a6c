"""The record list as a CSV or xlsx download, streamed from a server-side cursor: memory stays flat."""

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from openpyxl import Workbook

from intake.cells import safe_cell
from intake.records import queries

HEADER = ["Record ID", "Credit ID", "ACCME Activity ID", "Board", "First Name", "Last Name", "Date of Birth",
          "Learner ID", "Completion Date", "Submitted", "Credits", "Credit Types", "Status", "Error Code",
          "Error Message"]
FETCH = 2000


def row_cells(row: asyncpg.Record) -> list[Any]:
    errors = row["errors"] or []
    types = "; ".join(f"{name}: {points}" for name, points in (row["credit_types"] or {}).items())
    cells = [str(row["record_id"]), row["credit_id"], row["activity_id"], row["board"], row["first_name"],
             row["last_name"], row["dob"], row["learner_id"], row["completion_date"].isoformat(),
             row["submitted_at"].isoformat(), float(row["credits"]), types, row["status"],
             "; ".join(e["code"] for e in errors), "; ".join(e["message"] for e in errors)]
    return [safe_cell(c) for c in cells]


async def _rows(pool: asyncpg.Pool, schema: str, where: str, args: list[Any], sort: str
                ) -> AsyncIterator[list[asyncpg.Record]]:
    async with pool.acquire() as conn, conn.transaction():
        cursor = await conn.cursor(
            f"SELECT {queries.COLUMNS} FROM {schema}.records WHERE {where} ORDER BY {queries.order_by(sort)}", *args)
        while chunk := await cursor.fetch(FETCH):
            yield chunk


async def csv_stream(pool: asyncpg.Pool, schema: str, where: str, args: list[Any], sort: str) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    async for chunk in _rows(pool, schema, where, args, sort):
        writer.writerows(row_cells(r) for r in chunk)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


async def xlsx_stream(pool: asyncpg.Pool, schema: str, where: str, args: list[Any], sort: str
                      ) -> AsyncIterator[bytes]:
    # openpyxl's write-only mode keeps rows on disk, not in memory; the finished file is streamed from disk.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Records")
    sheet.append(HEADER)
    async for chunk in _rows(pool, schema, where, args, sort):
        for row in chunk:
            sheet.append(row_cells(row))
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while block := file.read(1 << 16):
            yield block
