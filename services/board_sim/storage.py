"""The board-sim schema: rosters, credit granted, answers given, board overrides (shared.board_overrides),
outbox."""

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from board_sim.judging import Diplomate, Grant, Ledger
from board_sim.requests import BoardRequest
from shared.board_overrides import read_boards
from shared.boards import Board
from shared.db import Connection, array_columns
from shared.events import BoardVerdict
from shared.names import name_key
from shared.outbox import KeptRows, OutboxMessage, OutboxWriter


class DeskTablesSql:
    """board_sim.ports.DeskTables in one transaction of `conn`."""

    def __init__(self, conn: Connection, writer: OutboxWriter) -> None:
        self._conn, self._writer = conn, writer

    async def boards(self) -> dict[str, Board]:
        return await read_boards(self._conn)

    async def answers(self, request_ids: Iterable[UUID]) -> dict[UUID, BoardVerdict]:
        rows = await self._conn.fetch(
            "SELECT request_id, verdict::text FROM answers WHERE request_id = ANY($1::uuid[])", list(set(request_ids)))
        return {r["request_id"]: BoardVerdict.model_validate_json(r["verdict"]) for r in rows}

    async def diplomates(self, board: str, board_ids: Iterable[str]) -> dict[str, Diplomate]:
        rows = await self._conn.fetch(
            "SELECT board_id, first_name, last_name, dob FROM roster WHERE board = $1 AND board_id = ANY($2::text[])",
            board, list(set(board_ids)),
        )
        return {r["board_id"]: Diplomate(r["board_id"], r["first_name"], r["last_name"], r["dob"]) for r in rows}

    async def diplomates_named(self, board: str, last_names: Iterable[str]) -> list[Diplomate]:
        rows = await self._conn.fetch(
            "SELECT board_id, first_name, last_name, dob FROM roster WHERE board = $1 AND last_name_key = ANY($2)",
            board, list({name_key(n) for n in last_names}),
        )
        return [Diplomate(r["board_id"], r["first_name"], r["last_name"], r["dob"]) for r in rows]

    async def ledger(self, board: str, keys: Iterable[tuple[str, str]]) -> Ledger:
        # Each (board ID, activity) is looked up alone by credits_learner: OFFSET 0 keeps the subquery from being
        # joined as a whole. As a join, a young table not yet analyzed had PostgreSQL take the board's credits for a
        # hundred rows and hash all of them for each batch (60,000 credits: 19 ms a batch of 500, 1.8 this way;
        # docs/PERFORMANCE.md).
        keys = list(set(keys))
        rows = await self._conn.fetch(
            "SELECT c.board_id, c.activity_id, c.completion_date, c.points, c.record_id"
            " FROM unnest($2::text[], $3::text[]) AS k(i, a) CROSS JOIN LATERAL (SELECT * FROM credits c"
            " WHERE c.board = $1 AND c.board_id = k.i AND c.activity_id = k.a OFFSET 0) c",
            board, [k[0] for k in keys], [k[1] for k in keys])
        book = Ledger()
        for r in rows:
            book.of(r["board_id"], r["activity_id"]).append(Grant(r["completion_date"], r["points"], r["record_id"]))
        return book

    # One statement per batch, an array per column: executemany ran (and planned) its statement once per row.
    async def record_answers(self, answers: list[tuple[BoardVerdict, bytes]]) -> None:
        if answers:
            await self._conn.execute(
                # The JSON the message carries, as bytes, not a dict for a codec to encode again.
                "INSERT INTO answers (request_id, board, verdict) SELECT r, b, convert_from(v, 'UTF8')::jsonb"
                " FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS a(r, b, v) ON CONFLICT DO NOTHING",
                *array_columns([(v.request_id, v.board, value) for v, value in answers], 3),
            )

    async def grant(self, granted: list[BoardRequest]) -> None:
        if granted:
            await self._conn.execute(
                "INSERT INTO credits (credit_key, board, board_id, activity_id, completion_date, points, record_id)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::numeric[],"
                " $7::uuid[]) ON CONFLICT (credit_key) DO NOTHING",
                *array_columns([(f"record:{q.record.record_id}", q.record.target.code, q.record.learner_id or "",
                                 q.record.activity_id, q.record.completion_date, q.record.credits, q.record.record_id)
                                for q in granted], 7),
            )

    async def withdraw(self, deleted: list[BoardRequest]) -> None:
        if deleted:
            await self._conn.execute("DELETE FROM credits WHERE credit_key = ANY($1::text[])",
                                     [f"record:{q.record.record_id}" for q in deleted])

    async def enqueue(self, messages: Sequence[OutboxMessage]) -> KeptRows:
        return await self._writer.enqueue(self._conn, messages)


class DeskStorage:
    """board_sim.ports.DeskStore on the board-sim schema; answers leave through `writer`."""

    def __init__(self, pool: asyncpg.Pool, writer: OutboxWriter) -> None:
        self._pool, self._writer = pool, writer

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DeskTablesSql]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield DeskTablesSql(conn, self._writer)

    async def publish(self, rows: KeptRows) -> None:
        await self._writer.publish_soon(rows)  # sent while the consumer takes its next batch
