"""The router schema: records it routed, requests in flight, board overrides (shared.board_overrides), outbox."""

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg

from board_router.events import RoutedRecord, read_record
from board_router.messages import BoardRequest, record_json
from board_router.ports import OverdueRequest, SentRequest
from shared.board_overrides import read_boards
from shared.boards import Board
from shared.db import Connection
from shared.outbox import KeptRows, OutboxMessage, OutboxWriter


class RouterTablesSql:
    """board_router.ports.RouterTables in one transaction of `conn`."""

    def __init__(self, conn: Connection, writer: OutboxWriter) -> None:
        self._conn, self._writer = conn, writer

    async def boards(self) -> dict[str, Board]:
        return await read_boards(self._conn)

    async def remember_records(self, records: list[RoutedRecord]) -> None:
        # One statement per batch, with an array per column, not a statement per row (executemany); the JSON as
        # LearnerRecord writes it, as bytes.
        await self._conn.execute(
            "INSERT INTO routed_records (record_id, board, record) SELECT r, b, convert_from(j, 'UTF8')::jsonb"
            " FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS x(r, b, j) ON CONFLICT DO NOTHING",
            [r.record_id for r in records], [r.target.code for r in records], [record_json(r) for r in records],
        )

    async def routed_records(self, record_ids: Iterable[UUID]) -> dict[UUID, RoutedRecord]:
        # As text, decoded by msgspec at once: json.loads and then validating the dict cost twice that.
        rows = await self._conn.fetch("SELECT record::text FROM routed_records WHERE record_id = ANY($1::uuid[])",
                                      list(set(record_ids)))
        return {rec.record_id: rec for rec in (read_record(r[0]) for r in rows)}

    async def open_requests(self, sent: list[tuple[BoardRequest, datetime]]) -> set[UUID]:
        rows = await self._conn.fetch(
            "INSERT INTO requests (request_id, record_id, board, action, correlation_id, provider_id, answer_due)"
            " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],"
            " $7::timestamptz[]) ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
            [q.request_id for q, _ in sent], [q.record.record_id for q, _ in sent],
            [q.record.target.code for q, _ in sent], [q.action for q, _ in sent], [q.correlation_id for q, _ in sent],
            [q.provider_id for q, _ in sent], [due for _, due in sent],
        )
        return {r[0] for r in rows}

    async def settle_open(self, verdicts: list[tuple[UUID, UUID]]) -> dict[UUID, SentRequest]:
        # One statement settles and locks: another instance settling the same request waits for this commit, then
        # finds it settled. Open is "verdict_id IS NULL" (set with settled_at, always), tested as a join condition,
        # of the request found and of the verdict for it, never as a condition of the table alone. PostgreSQL
        # estimates the latter from statistics that an hour of files turns over: with "settled_at IS NULL", the
        # predicate of the partial index of open requests, it trusted a time when few were open and joined each
        # batch against every open one (165 ms a batch of 300 with 200,000 open); with "verdict_id IS NULL", after
        # an ANALYZE that found every request settled, it took none to be open, scanned the table once for them and
        # compared each with every verdict of the batch (0.3-0.5 s a batch of 500 with 3,000 open,
        # docs/PERFORMANCE.md). This way each request is found by its key.
        rows = await self._conn.fetch(
            "UPDATE requests q SET settled_at = now(), verdict_id = s.v FROM unnest($1::uuid[], $2::uuid[]) AS s(r, v)"
            " WHERE q.request_id = s.r AND (q.verdict_id IS NULL) = (s.v IS NOT NULL)"
            " RETURNING q.request_id, q.record_id, q.correlation_id",
            [r for r, _ in verdicts], [v for _, v in verdicts],
        )
        return {r[0]: SentRequest(r[0], r[1], r[2], None) for r in rows}

    async def settled_requests(self, request_ids: Iterable[UUID]) -> dict[UUID, SentRequest]:
        rows = await self._conn.fetch(
            "SELECT request_id, record_id, correlation_id, verdict_id FROM requests"
            " WHERE request_id = ANY($1::uuid[]) AND verdict_id IS NOT NULL",
            list(set(request_ids)),
        )
        return {r[0]: SentRequest(*r) for r in rows}

    async def overdue(self, limit: int) -> list[OverdueRequest]:
        rows = await self._conn.fetch(
            "SELECT request_id, record_id, action, correlation_id, board FROM requests"
            " WHERE settled_at IS NULL AND answer_due < now() ORDER BY answer_due LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        return [OverdueRequest(*r) for r in rows]

    async def postpone(self, due: list[tuple[UUID, datetime]]) -> None:
        await self._conn.executemany(
            "UPDATE requests SET answer_due = $2, attempts = attempts + 1 WHERE request_id = $1", due)

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        return await self._writer.enqueue(self._conn, messages)


class RouterStorage:
    """board_router.ports.RouterStore on the router's schema; its messages leave through `writer`."""

    def __init__(self, pool: asyncpg.Pool, writer: OutboxWriter) -> None:
        self._pool, self._writer = pool, writer

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RouterTablesSql]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield RouterTablesSql(conn, self._writer)

    async def publish(self, rows: KeptRows) -> None:
        await self._writer.publish_soon(rows)  # sent while the consumer takes its next batch
