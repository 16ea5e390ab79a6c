"""A batch upload's way in: the file read off the event loop (batch_files/read.py) and kept with its records'
messages, which the submission path (submitting/writer.py) queues for the relay in the same transaction; and its
way out, the rejection and success files, written off the loop too."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from uuid import UUID

import asyncpg

from intake.batch_files.model import BatchFileError, ParsedBatch, SourceRow, row_problem, shape_problem
from intake.batch_files.read import claimed_format, parse, read_batch_file
from intake.batch_files.writers.outcome_files import WrittenFile, outcome_file
from intake.batches import storage
from intake.submitting.messages import submission, submission_headers
from intake.submitting.writer import queue_batch
from shared.collector import collector_held
from shared.logging import get_logger
from shared.outbox import Outbox, OutboxMessage
from shared.settings import Settings

log = get_logger(__name__)


# What an upload keeps lives until its transaction: the collector walks every object of it in each full pass,
# and a full pass comes each time the objects alive grow by a quarter. So rows keep tuples (of text, which it stops
# walking) and the many records without cells of their own share one.
_NO_CELLS: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """What an upload keeps of a record once its message is written: its batch_records row and the message."""
    record_id: UUID
    target: str
    own_cells: tuple[int, ...]
    message: OutboxMessage


@dataclass(frozen=True, slots=True)
class QueuedRow:
    number: int
    cells: tuple[str, ...]
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
        records = [QueuedRecord(r.record.record_id, r.record.target.code,
                                tuple(sorted(r.own_cells)) if r.own_cells else _NO_CELLS,
                                submission(settings, r.record, str(batch_id), headers)) for r in row.records]
        return QueuedRow(row.number, tuple(row.cells), records)

    parsed = read_batch_file(file_name, data, provider_id, batch_id, queued)
    if problem := shape_problem(parsed):
        raise problem
    if found:
        raise found[0]
    return cast(ParsedBatch[QueuedRow], parsed)  # its rows are what `queued` made of them (model.Keep)


# A file of this many bytes or more is large (a 5,000-row xlsx is ≈ 290 KB, a 1,000-row one ≈ 60 KB; its parse
# takes ≈ 0.15 s here): see ParseTurns.
LARGE_FILE_BYTES = 64 * 1024


# How often a parse's thread gives the event loop its turn at the interpreter (sys.setswitchinterval, set at intake's
# start; Python's default is 5 ms). While a file parses, every wake-up of the loop (an API request, a Kafka or
# PostgreSQL answer, the relay's next send) waited up to that long for the GIL.
PARSE_SWITCH_SECONDS = 0.0005


class ParseTurns:
    """Large files parse one at a time, in the order they came; smaller ones at once.

    Every parse of an intake process shares one interpreter (threads, one GIL). Four 5,000-row files parsed together
    all finished ≈ 6 s after their upload, and validation, the boards and the projector had nothing to do until
    then; one after another, the first file's records are on their way while the others parse (docs/PERFORMANCE.md,
    "The ceiling with the design's writes; large files parse one at a time"). A small file never waits behind a
    large one. Made inside the running loop (the app's set-up)."""

    def __init__(self, large_bytes: int = LARGE_FILE_BYTES) -> None:
        self._large_bytes = large_bytes
        self._turn = asyncio.Lock()  # its waiters get it in the order they asked

    @asynccontextmanager
    async def turn(self, data: bytes) -> AsyncIterator[None]:
        if len(data) < self._large_bytes:
            yield
            return
        async with self._turn:
            yield


async def parse_off_loop(turns: ParseTurns, file_name: str, data: bytes, provider_id: str,
                         batch_id: UUID) -> ParsedBatch:
    # Parsing 5,000 rows takes CPU time: a thread keeps the API answering meanwhile.
    async with turns.turn(data):
        return await asyncio.to_thread(collector_held()(parse), file_name, data, provider_id, batch_id)


async def parse_to_queue_off_loop(turns: ParseTurns, settings: Settings, file_name: str, data: bytes,
                                  provider_id: str, batch_id: UUID) -> ParsedBatch[QueuedRow]:
    # A parse builds every row and record of its file and keeps them: the collector's young passes walked each of
    # them and promoted them to be walked again (up to 14 of a row's 78 µs in the service: docs/PERFORMANCE.md). Held
    # off (shared/collector.py), one pass after the parse walks what it built, once.
    async with turns.turn(data):
        return await asyncio.to_thread(collector_held()(parse_to_queue), settings, file_name, data, provider_id,
                                       batch_id)


async def keep_upload(pool: asyncpg.Pool, outbox: Outbox, turns: ParseTurns, settings: Settings, batch_id: UUID,
                      provider_id: str, file_name: str, data: bytes) -> ParsedBatch[QueuedRow]:
    """An uploaded file, by the API or the portal: parsed (in its turn) and kept with its queued records, or,
    refused as a whole (BatchFileError, raised again), kept in the history as failed with the reason."""
    try:
        parsed = await parse_to_queue_off_loop(turns, settings, file_name, data, provider_id, batch_id)
    except BatchFileError as exc:
        await refuse_upload(pool, batch_id, provider_id, file_name, exc)
        raise
    await accept_batch(pool, outbox, batch_id, provider_id, file_name, parsed)
    log.info("batch accepted", batch_id=str(batch_id), records=parsed.record_count, format=parsed.format.value)
    return parsed


async def refuse_upload(pool: asyncpg.Pool, batch_id: UUID, provider_id: str, file_name: str,
                        refusal: BatchFileError) -> None:
    """A file refused as a whole stays in the provider's upload history, failed, with its reason."""
    kind = claimed_format(file_name)
    await storage.record_failed(pool, batch_id, provider_id, file_name, kind.value if kind else "unknown",
                                refusal.message)
    log.info("batch refused", batch_id=str(batch_id), reason=refusal.code)


async def accept_batch(pool: asyncpg.Pool, outbox: Outbox, batch_id: UUID, provider_id: str, file_name: str,
                       parsed: ParsedBatch[QueuedRow]) -> None:
    """The rows and their submissions in one transaction: once the upload is answered, nothing can be lost.
    `parsed` is `parse_to_queue`'s."""
    async with pool.acquire() as conn, conn.transaction():
        await storage.save_batch(conn, batch_id, provider_id, file_name, parsed)
        await queue_batch(conn, outbox, [r.message for row in parsed.rows for r in row.records])


async def outcome_file_of(pool: asyncpg.Pool, batch: asyncpg.Record, *, rejected: bool) -> WrittenFile:
    """A batch's rejection file (`rejected` False: its success file): its rows read, and the file written off the
    event loop. A file of 4,000 rows took 0.5-0.6 s here, nearly all of it openpyxl's, and every request to this
    intake process waited through it while it ran on the loop."""
    outcomes = await storage.row_outcomes(pool, batch["batch_id"], "rejected" if rejected else "added")
    return await asyncio.to_thread(outcome_file, batch, outcomes, rejected=rejected)
