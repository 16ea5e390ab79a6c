"""The router schema: records it routed, requests in flight, board overrides."""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import asyncpg

from shared.boards import BoardOverride
from shared.events import LearnerRecord, ProcessBoardRequest


async def board_overrides(conn: asyncpg.Connection) -> list[BoardOverride]:
    return [BoardOverride.model_validate(r["data"]) for r in await conn.fetch("SELECT data FROM board_overrides")]


async def remember_records(conn: asyncpg.Connection, records: list[LearnerRecord]) -> None:
    await conn.executemany(
        # JSON text straight from pydantic's serializer, not a dict for json.dumps to encode again.
        "INSERT INTO routed_records (record_id, board, record) VALUES ($1, $2, $3::text::jsonb)"
        " ON CONFLICT DO NOTHING",
        [(r.record_id, r.target.code, r.model_dump_json()) for r in records],
    )


async def routed_records(conn: asyncpg.Connection, record_ids: Iterable[UUID]) -> dict[UUID, LearnerRecord]:
    # As text, parsed by pydantic at once: json.loads and then validating the dict cost twice that.
    rows = await conn.fetch("SELECT record::text FROM routed_records WHERE record_id = ANY($1::uuid[])",
                            list(set(record_ids)))
    return {rec.record_id: rec for rec in (LearnerRecord.model_validate_json(r[0]) for r in rows)}


async def open_requests(conn: asyncpg.Connection, sent: list[tuple[ProcessBoardRequest, datetime]]) -> None:
    await conn.executemany(
        "INSERT INTO requests (request_id, record_id, board, action, correlation_id, provider_id, answer_due)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO NOTHING",
        [(q.request_id, q.record.record_id, q.record.target.code, q.action, q.correlation_id, q.provider_id, due)
         for q, due in sent],
    )


async def requests(conn: asyncpg.Connection, request_ids: Iterable[UUID], *,
                   settled_too: bool = False) -> dict[UUID, asyncpg.Record]:
    """The requests a batch of verdicts answers: the open ones (and, for a replay, the settled ones too)."""
    rows = await conn.fetch(
        "SELECT request_id, record_id, correlation_id, verdict_id FROM requests WHERE request_id = ANY($1::uuid[])"
        + ("" if settled_too else " AND settled_at IS NULL") + " FOR UPDATE",
        list(set(request_ids)),
    )
    return {r["request_id"]: r for r in rows}


async def settle(conn: asyncpg.Connection, settled: list[tuple[UUID, UUID]]) -> None:
    await conn.executemany(
        "UPDATE requests SET settled_at = now(), verdict_id = $2 WHERE request_id = $1 AND settled_at IS NULL",
        settled,
    )


async def overdue(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT request_id, record_id, action, correlation_id, board FROM requests"
        " WHERE settled_at IS NULL AND answer_due < now() ORDER BY answer_due LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )


async def postpone(conn: asyncpg.Connection, due: list[tuple[UUID, datetime]]) -> None:
    await conn.executemany(
        "UPDATE requests SET answer_due = $2, attempts = attempts + 1 WHERE request_id = $1", due)
