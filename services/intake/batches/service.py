"""A batch upload's way in: the file read off the event loop (batch_files/read.py) and kept with its records'
messages, which the submission path (submitting/writer.py) queues for the relay in the same transaction."""

import asyncio
from dataclasses import dataclass
from typing import cast
from uuid import UUID

import asyncpg

from intake.batch_files.model import BatchFileError, ParsedBatch, SourceRow, row_problem, shape_problem
from intake.batch_files.read import claimed_format, parse, read_batch_file
from intake.batches import storage
from intake.submitting.messages import submission, submission_headers
from intake.submitting.writer import queue_batch
from shared.outbox import Outbox, OutboxMessage
from shared.settings import Settings


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
                   batch_id: UUID) -> ParsedBatch[QueuedRow]:
    """`parse`, with each row's records turned into their messages as soon as the row is read (the batch's rows
    are QueuedRows): a record's model is ≈ 4 KB, its message ≈ 1 KB. The same files are refused with the same
    error: an unkeepable value is noted as its row is read, and raised once the whole file is, after any problem
    above the rows, as `refuse_unkeepable` does."""
    headers = submission_headers(str(batch_id))  # one dict for the batch's messages
    found: list[BatchFileError] = []
    kind = claimed_format(file_name)

    def queued(row: SourceRow) -> QueuedRow:
        if not found and kind is not None and (problem := row_problem(kind, row)):
            found.append(problem)
        records = [QueuedRecord(r.record.record_id, r.record.target.code, sorted(r.own_cells),
                                submission(settings, r.record, str(batch_id), headers)) for r in row.records]
        return QueuedRow(row.number, row.cells, records)

    parsed = read_batch_file(file_name, data, provider_id, batch_id, queued)
    if problem := shape_problem(parsed):
        raise problem
    if found:
        raise found[0]
    return cast(ParsedBatch[QueuedRow], parsed)  # its rows are what `queued` made of them (model.Keep)


async def parse_off_loop(file_name: str, data: bytes, provider_id: str, batch_id: UUID) -> ParsedBatch:
    # Parsing 5,000 rows takes CPU time: a thread keeps the API answering meanwhile.
    return await asyncio.to_thread(parse, file_name, data, provider_id, batch_id)


async def parse_to_queue_off_loop(settings: Settings, file_name: str, data: bytes, provider_id: str,
                                  batch_id: UUID) -> ParsedBatch[QueuedRow]:
    return await asyncio.to_thread(parse_to_queue, settings, file_name, data, provider_id, batch_id)


async def accept_batch(pool: asyncpg.Pool, outbox: Outbox, batch_id: UUID, provider_id: str, file_name: str,
                       parsed: ParsedBatch[QueuedRow]) -> None:
    """The rows and their submissions in one transaction: once the upload is answered, nothing can be lost.
    `parsed` is `parse_to_queue`'s."""
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_batch(conn, batch_id, provider_id, file_name, parsed)
        await queue_batch(conn, outbox, [r.message for row in parsed.rows for r in row.records])
