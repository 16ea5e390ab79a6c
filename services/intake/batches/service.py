"""A batch upload's way in: tell the file's kind, parse it off the event loop, keep it and queue its records."""

import asyncio
from pathlib import PurePath
from uuid import UUID

import asyncpg

from intake.batches import storage
from intake.batches.model import MAX_FILE_BYTES, BatchFileError, FileFormat, ParsedBatch
from shared.events import ReportedRecord, SubmitRecord
from shared.outbox import Outbox, OutboxMessage
from shared.settings import Settings
from shared.topics import SUBMISSIONS

EXTENSIONS = {".xlsx": FileFormat.XLSX, ".txt": FileFormat.TXT, ".tsv": FileFormat.TXT, ".xml": FileFormat.XML}


def file_format(file_name: str) -> FileFormat:
    suffix = PurePath(file_name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise BatchFileError("unknown_type", f"'{file_name}' is not a batch file PARS reads: send an .xlsx "
                             "workbook, a tab-delimited .txt file or an Activity Report .xml file.")
    return EXTENSIONS[suffix]


def parse(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    """Every whole-file problem is a BatchFileError; anything else a parser raises is a bug, not the file's."""
    kind = file_format(file_name)
    if len(data) > MAX_FILE_BYTES:
        raise BatchFileError("file_too_large", f"The file is {len(data):,} bytes; a batch file may be at most "
                             f"{MAX_FILE_BYTES:,} bytes. Split it into several files.")
    if kind is FileFormat.XML:
        from intake.batches.activity_report import read_activity_report
        return read_activity_report(data, provider_id=provider_id, batch_id=batch_id)
    from intake.batches.tabular import read_tabular
    return read_tabular(file_name, data, provider_id=provider_id, batch_id=batch_id)


async def parse_off_loop(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    # Parsing 5,000 rows takes CPU time: a thread keeps the API answering meanwhile.
    return await asyncio.to_thread(parse, file_name, data, provider_id, batch_id)


def submission(settings: Settings, record: ReportedRecord, correlation_id: str) -> OutboxMessage:
    command = SubmitRecord(record=record, correlation_id=correlation_id, provider_id=record.provider_id,
                           record_id=record.record_id, submission_id=record.submission_id)
    return OutboxMessage(topic=settings.topic(SUBMISSIONS.name), value=command.to_bytes(),
                         key=f"{record.provider_id}:{record.credit_id}".encode(),
                         headers={"event_type": command.event_type, "correlation_id": correlation_id})


async def accept_batch(pool: asyncpg.Pool, outbox: Outbox, settings: Settings, batch_id: UUID, provider_id: str,
                       file_name: str, parsed: ParsedBatch) -> None:
    """The rows and their submissions in one transaction: once the upload is answered, nothing can be lost."""
    messages = [submission(settings, r.record, str(batch_id)) for row in parsed.rows for r in row.records]
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_batch(conn, batch_id, provider_id, file_name, parsed)
        await outbox.enqueue(conn, messages)
