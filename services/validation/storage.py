"""The validation schema: activities, board overrides, the physician directory, live credit IDs."""

from collections.abc import Iterable

import asyncpg

from shared.boards import BoardOverride
from shared.events import LearnerRecord
from shared.world import Activity

LiveKey = tuple[str, str, str]  # provider ID, credit ID, target code


async def activities(conn: asyncpg.Connection, ids: Iterable[str]) -> dict[str, Activity]:
    rows = await conn.fetch("SELECT data FROM activities WHERE id = ANY($1::text[])", list(set(ids)))
    return {a.id: a for a in (Activity.model_validate(r["data"]) for r in rows)}


async def board_overrides(conn: asyncpg.Connection) -> list[BoardOverride]:
    return [BoardOverride.model_validate(r["data"]) for r in await conn.fetch("SELECT data FROM board_overrides")]


async def live_records(conn: asyncpg.Connection, keys: Iterable[LiveKey]) -> dict[LiveKey, LearnerRecord]:
    keys = list(set(keys))
    rows = await conn.fetch(
        "SELECT l.provider_id, l.credit_id, l.target_code, l.record FROM live_records l"
        " JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(p, c, t)"
        " ON l.provider_id = k.p AND l.credit_id = k.c AND l.target_code = k.t",
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
    )
    return {(r["provider_id"], r["credit_id"], r["target_code"]): LearnerRecord.model_validate(r["record"])
            for r in rows}


async def replace_live(conn: asyncpg.Connection, released: list[LiveKey], kept: list[LearnerRecord]) -> None:
    if released:
        await conn.executemany(
            "DELETE FROM live_records WHERE provider_id = $1 AND credit_id = $2 AND target_code = $3", released)
    if kept:
        # A plain INSERT: if another instance kept the same credit ID meanwhile, this batch fails and is
        # retried, and then sees that record (603). Exactly one Add wins.
        await conn.executemany(
            "INSERT INTO live_records (provider_id, credit_id, target_code, record_id, record)"
            " VALUES ($1, $2, $3, $4, $5)",
            [(r.provider_id, r.credit_id, r.target.code, r.record_id, r.model_dump(mode="json")) for r in kept],
        )
