"""The board-sim schema: rosters, credit granted, answers given, board overrides."""

from collections.abc import Iterable
from uuid import UUID

import asyncpg

from board_sim.judging import Diplomate, Grant, Ledger
from board_sim.requests import BoardRequest
from shared.boards import BoardOverride
from shared.events import BoardVerdict
from shared.names import name_key


async def board_overrides(conn: asyncpg.Connection) -> list[BoardOverride]:
    return [BoardOverride.model_validate(r["data"]) for r in await conn.fetch("SELECT data FROM board_overrides")]


async def answers(conn: asyncpg.Connection, request_ids: Iterable[UUID]) -> dict[UUID, BoardVerdict]:
    rows = await conn.fetch("SELECT request_id, verdict::text FROM answers WHERE request_id = ANY($1::uuid[])",
                            list(set(request_ids)))
    return {r["request_id"]: BoardVerdict.model_validate_json(r["verdict"]) for r in rows}


async def diplomates(conn: asyncpg.Connection, board: str, board_ids: Iterable[str]) -> dict[str, Diplomate]:
    rows = await conn.fetch(
        "SELECT board_id, first_name, last_name, dob FROM roster WHERE board = $1 AND board_id = ANY($2::text[])",
        board, list(set(board_ids)),
    )
    return {r["board_id"]: Diplomate(r["board_id"], r["first_name"], r["last_name"], r["dob"]) for r in rows}


async def diplomates_named(conn: asyncpg.Connection, board: str, last_names: Iterable[str]) -> list[Diplomate]:
    """The board's diplomates with these last names (as PARS compares names), for matching without an ID."""
    rows = await conn.fetch(
        "SELECT board_id, first_name, last_name, dob FROM roster WHERE board = $1 AND last_name_key = ANY($2)",
        board, list({name_key(n) for n in last_names}),
    )
    return [Diplomate(r["board_id"], r["first_name"], r["last_name"], r["dob"]) for r in rows]


async def record_answers(conn: asyncpg.Connection, verdicts: list[BoardVerdict]) -> None:
    await conn.executemany(
        # JSON text straight from pydantic's serializer, not a dict for json.dumps to encode again.
        "INSERT INTO answers (request_id, board, verdict) VALUES ($1, $2, $3::text::jsonb) ON CONFLICT DO NOTHING",
        [(v.request_id, v.board, v.model_dump_json()) for v in verdicts],
    )


async def grant(conn: asyncpg.Connection, granted: list[BoardRequest]) -> None:
    await conn.executemany(
        "INSERT INTO credits (credit_key, board, board_id, activity_id, completion_date, points, record_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (credit_key) DO NOTHING",
        [(f"record:{q.record.record_id}", q.record.target.code, q.record.learner_id or "", q.record.activity_id,
          q.record.completion_date, q.record.credits, q.record.record_id) for q in granted],
    )


async def withdraw(conn: asyncpg.Connection, deleted: list[BoardRequest]) -> None:
    await conn.executemany("DELETE FROM credits WHERE credit_key = $1",
                           [(f"record:{q.record.record_id}",) for q in deleted])


async def ledger(conn: asyncpg.Connection, board: str, keys: Iterable[tuple[str, str]]) -> Ledger:
    """The credit already granted for each (board ID, activity) of a batch, through PARS or outside it."""
    keys = list(set(keys))
    rows = await conn.fetch(
        "SELECT c.board_id, c.activity_id, c.completion_date, c.points, c.record_id FROM credits c"
        " JOIN unnest($2::text[], $3::text[]) AS k(i, a) ON c.board_id = k.i AND c.activity_id = k.a"
        " WHERE c.board = $1", board, [k[0] for k in keys], [k[1] for k in keys])
    book = Ledger()
    for r in rows:
        book.of(r["board_id"], r["activity_id"]).append(Grant(r["completion_date"], r["points"], r["record_id"]))
    return book
