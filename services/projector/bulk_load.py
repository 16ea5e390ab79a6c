"""A rebuild's load: the log's events into a fresh generation's bare tables (no key, no index), by binary COPY.

The rebuild is those tables' only writer until its swap, so what the projector asks PostgreSQL (was this event
applied? has this record a row?) is known here: the ids of the events applied and of the records written are
kept in memory. Each record's events fold (projector.folding, as the projector folds a batch) while the record
is among the last WINDOW records the log touched; older ones are pushed out as rows, written once, complete.
An event for a record already written folds into a late change, applied with the projector's own statement
once the tables have their keys (rare: a verdict comes seconds after its submission, a deletion later).
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from typing import Any
from uuid import UUID

import asyncpg

from projector import storage
from projector.events import RecordEvent
from projector.folding import RecordChange, fold, new_row, rejection

# Records folding in memory at once (≈ 1.5 KB each): a record written before its verdict comes costs an UPDATE at
# the end, so the window covers the verdicts of several 5,000-row files submitted at once.
WINDOW = 20_000
TIMELINE_COLUMNS = ("seq", "event_id", "record_id", "event_type", "occurred_at", "payload")


@asynccontextmanager
async def bulk_connection(database_url: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the load's own. JSON goes as the bytes the event carried (binary COPY takes json as its
    text, jsonb as a version byte and its text): no str made and encoded again per value. Index builds sort in
    memory, one per connection (the rebuild runs two at once: the cores it has)."""
    conn = await asyncpg.connect(database_url, server_settings={
        "search_path": schema, "application_name": schema, "synchronous_commit": "off",
        "maintenance_work_mem": "256MB", "max_parallel_maintenance_workers": "0"})
    try:
        await conn.set_type_codec("json", schema="pg_catalog", format="binary", encoder=bytes, decoder=bytes)
        await conn.set_type_codec("jsonb", schema="pg_catalog", format="binary", encoder=_jsonb, decoder=bytes)
        yield conn
    finally:
        await conn.close()


def _jsonb(value: bytes) -> bytes:
    return b"\x01" + bytes(value)


class _Copier:
    """COPYs on one connection in the background, one batch's at a time: while PostgreSQL takes a batch, the
    next one is read and folded."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._task: asyncio.Task[None] | None = None

    async def copy(self, *jobs: tuple[str, Sequence[str], Sequence[tuple[Any, ...]]]) -> None:
        await self.wait()
        if jobs := tuple(job for job in jobs if job[2]):
            self._task = asyncio.create_task(self._copy(jobs))

    async def _copy(self, jobs: tuple[tuple[str, Sequence[str], Sequence[tuple[Any, ...]]], ...]) -> None:
        for table, columns, rows in jobs:
            await self._conn.copy_records_to_table(table, records=rows, columns=columns)

    async def wait(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            await task


class BulkLoad:
    """Feed it the log's events (`add`, a partition's in log order), then `finish`; once the tables have their
    keys, `apply_late`."""

    def __init__(self, tables: storage.Tables, *, timeline: asyncpg.Connection, rows: asyncpg.Connection) -> None:
        self._tables, self._conn = tables, rows
        self._timeline, self._rows = _Copier(timeline), _Copier(rows)
        # Ids as ints: a UUID's hash and equality are Python code, an int's are not.
        self._applied: set[int] = set()  # events
        self._written: set[int] = set()  # records with a row
        self._rejected: set[int] = set()  # records with PARS's rejection
        self._folding: dict[int, RecordChange] = {}  # oldest first
        self._late: dict[UUID, RecordChange] = {}
        self._seq = 0  # the timeline's order (a record's events are in one partition: in log order)
        self.read = 0

    async def add(self, events: Sequence[RecordEvent]) -> None:
        self.read += len(events)
        applied, written, folding, late, seq = self._applied, self._written, self._folding, self._late, self._seq
        timeline, rejections = [], []
        for event in events:
            record_id = event.record_id
            if record_id is None or (event_id := event.event_id.int) in applied:
                continue
            applied.add(event_id)
            seq += 1
            timeline.append((seq, event.event_id, record_id, event.event_type, event.occurred_at, event.raw))
            event.raw = b""  # the timeline's row has it; a submission folding in the window need not keep it
            if (key := record_id.int) in written:
                if (change := fold(late.get(record_id), event)) is not None:
                    late[record_id] = change
            elif (change := fold(folding.get(key), event)) is not None:
                folding[key] = change
            if (row := rejection(event)) is not None and row.record_id.int not in self._rejected:
                self._rejected.add(row.record_id.int)  # the first one stays, as in the projector
                rejections.append(row)
        self._seq = seq
        await self._timeline.copy((self._tables.events, TIMELINE_COLUMNS, timeline))
        await self._write(len(folding) - WINDOW, rejections)

    async def _write(self, records: int, rejections: Sequence[tuple[Any, ...]]) -> None:
        """Write the `records` oldest records' rows (a record with no submission yet has none) and PARS's
        rejections."""
        rows = []
        for key in list(islice(self._folding, max(records, 0))):
            if (row := new_row(self._folding.pop(key))) is not None:
                self._written.add(key)
                rows.append(row)
        await self._rows.copy((self._tables.records, tuple(storage.RECORD_COLUMNS), rows),
                              (self._tables.rejections, tuple(storage.REJECTION_COLUMNS), rejections))

    async def finish(self) -> None:
        """Write every row still folding and wait for the COPYs; the timeline's sequence goes on after the load."""
        await self._write(len(self._folding), [])
        await self._timeline.wait()
        await self._rows.wait()
        if self._seq:
            await self._conn.execute(f"SELECT setval('{self._tables.events}_seq', $1)", self._seq)

    async def apply_late(self, conn: asyncpg.Connection) -> None:
        """Events for records written before them, as the projector applies a batch (needs the records' key)."""
        if self._late:
            await storage.save_changes(conn, self._tables, self._late)
