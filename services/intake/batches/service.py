"""A batch upload's way in: tell the file's kind, parse it off the event loop, keep it and queue its records."""

import asyncio
from pathlib import PurePath
from uuid import UUID

import asyncpg

from intake.batches import storage
from intake.batches.model import BatchFileError, FileFormat, ParsedBatch, refuse_unkeepable
from intake.submissions import submission
from shared.outbox import Outbox
from shared.settings import Settings

EXTENSIONS = {".xlsx": FileFormat.XLSX, ".txt": FileFormat.TXT, ".xml": FileFormat.XML}


def claimed_format(file_name: str) -> FileFormat | None:
    """The format a file's name claims (the readers check that its bytes agree)."""
    return EXTENSIONS.get(PurePath(file_name).suffix.lower())


def parse(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    """Every whole-file problem is a BatchFileError; anything else a parser raises is a bug, not the file's."""
    kind = claimed_format(file_name)
    if kind is None:
        raise BatchFileError("unknown_type", f"'{file_name}' is not a batch file PARS reads: send an .xlsx "
                             "workbook, a tab-delimited .txt file or an Activity Report .xml file.")
    if kind is FileFormat.XML:
        from intake.batches.activity_report import read_activity_report
        parsed = read_activity_report(data, provider_id=provider_id, batch_id=batch_id)
    else:
        from intake.batches.tabular import read_tabular
        parsed = read_tabular(file_name, data, provider_id=provider_id, batch_id=batch_id)
    refuse_unkeepable(parsed)
    return parsed


async def parse_off_loop(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    # Parsing 5,000 rows takes CPU time: a thread keeps the API answering meanwhile.
    return await asyncio.to_thread(parse, file_name, data, provider_id, batch_id)


async def accept_batch(pool: asyncpg.Pool, outbox: Outbox, settings: Settings, batch_id: UUID, provider_id: str,
                       file_name: str, parsed: ParsedBatch) -> None:
    """The rows and their submissions in one transaction: once the upload is answered, nothing can be lost."""
    messages = [submission(settings, r.record, str(batch_id)) for row in parsed.rows for r in row.records]
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_batch(conn, batch_id, provider_id, file_name, parsed)
        await outbox.enqueue(conn, messages)
