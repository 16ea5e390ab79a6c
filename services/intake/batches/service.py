"""A batch upload's way in: tell the file's kind, parse it off the event loop, keep it and queue its records."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any
from uuid import UUID

import asyncpg

from intake.batches import storage
from intake.batches.model import (
    BatchFileError,
    FileFormat,
    ParsedBatch,
    SourceRow,
    refuse_unkeepable,
    row_problem,
    shape_problem,
)
from intake.submissions import submission
from shared.outbox import Outbox, OutboxMessage
from shared.settings import Settings

OUTBOX_CHUNK = 1_000  # messages an INSERT into the outbox (accept_batch)
EXTENSIONS = {".xlsx": FileFormat.XLSX, ".txt": FileFormat.TXT, ".xml": FileFormat.XML}


def claimed_format(file_name: str) -> FileFormat | None:
    """The format a file's name claims (the readers check that its bytes agree)."""
    return EXTENSIONS.get(PurePath(file_name).suffix.lower())


def parse(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    """Every whole-file problem is a BatchFileError; anything else a parser raises is a bug, not the file's."""
    parsed = _read(file_name, data, provider_id, batch_id)
    refuse_unkeepable(parsed)
    return parsed


@dataclass(frozen=True)
class QueuedRecord:
    """What an upload keeps of a record once its message is written: its batch_records row and the message."""
    record_id: UUID
    target: str
    own_cells: list[int]
    message: OutboxMessage


@dataclass(frozen=True)
class QueuedRow:
    number: int
    cells: list[str]
    records: list[QueuedRecord]


def parse_to_queue(settings: Settings, file_name: str, data: bytes, provider_id: str,
                   batch_id: UUID) -> ParsedBatch:
    """`parse`, with each row's records turned into their messages as soon as the row is read (the batch's rows
    are QueuedRows): a record's model is ≈ 4 KB, its message ≈ 1 KB. The same files are refused with the same
    error: an unkeepable value is noted as its row is read, and raised once the whole file is, after any problem
    above the rows, as `refuse_unkeepable` does."""
    headers = {"event_type": "SubmitRecord", "correlation_id": str(batch_id)}  # one dict for the batch's messages
    found: list[BatchFileError] = []
    kind = claimed_format(file_name)

    def queued(row: SourceRow) -> QueuedRow:
        if not found and kind is not None and (problem := row_problem(kind, row)):
            found.append(problem)
        records = []
        for r in row.records:
            message = submission(settings, r.record, str(batch_id))
            if message.headers == headers and message.not_before is None:
                message = OutboxMessage(message.topic, message.value, message.key, headers)
            records.append(QueuedRecord(r.record.record_id, r.record.target.code, sorted(r.own_cells), message))
        return QueuedRow(row.number, row.cells, records)

    parsed = _read(file_name, data, provider_id, batch_id, queued)
    if problem := shape_problem(parsed):
        raise problem
    if found:
        raise found[0]
    return parsed


def _read(file_name: str, data: bytes, provider_id: str, batch_id: UUID,
          keep: Callable[[SourceRow], Any] | None = None) -> ParsedBatch:
    kind = claimed_format(file_name)
    if kind is None:
        raise BatchFileError("unknown_type", f"'{file_name}' is not a batch file PARS reads: send an .xlsx "
                             "workbook, a tab-delimited .txt file or an Activity Report .xml file.")
    if kind is FileFormat.XML:
        from intake.batches.activity_report import read_activity_report
        parsed = read_activity_report(data, provider_id=provider_id, batch_id=batch_id)
        if keep is not None:  # an Activity Report is read whole first (lxml); its rows are turned one by one
            parsed.rows.reverse()
            kept = []
            while parsed.rows:
                kept.append(keep(parsed.rows.pop()))
            parsed.rows = kept
        return parsed
    from intake.batches.tabular import read_tabular
    return read_tabular(file_name, data, provider_id=provider_id, batch_id=batch_id, keep=keep)


async def parse_off_loop(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    # Parsing 5,000 rows takes CPU time: a thread keeps the API answering meanwhile.
    return await asyncio.to_thread(parse, file_name, data, provider_id, batch_id)


async def parse_to_queue_off_loop(settings: Settings, file_name: str, data: bytes, provider_id: str,
                                  batch_id: UUID) -> ParsedBatch:
    return await asyncio.to_thread(parse_to_queue, settings, file_name, data, provider_id, batch_id)


async def accept_batch(pool: asyncpg.Pool, outbox: Outbox, batch_id: UUID, provider_id: str, file_name: str,
                       parsed: ParsedBatch) -> None:
    """The rows and their submissions in one transaction: once the upload is answered, nothing can be lost.
    `parsed` is `parse_to_queue`'s."""
    messages = [r.message for row in parsed.rows for r in row.records]
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_batch(conn, batch_id, provider_id, file_name, parsed)
        # Several statements of OUTBOX_CHUNK messages: asyncpg builds each statement's arguments in one buffer
        # (≈ 1.2 KB a message), and four uploads at once need not hold four 6 MB buffers. The relay is woken once.
        for start in range(0, len(messages), OUTBOX_CHUNK):
            await outbox.enqueue(conn, messages[start:start + OUTBOX_CHUNK],
                                 notify=start + OUTBOX_CHUNK >= len(messages))
