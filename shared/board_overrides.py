"""The one reader and writer of a service's `board_overrides` table.

Validation, board-router and board-sim each keep the world file's board overrides in their own schema (a
service reads only its own tables); the table is the same in all three, and so is the code that uses it.
"""

from collections.abc import Iterable

import asyncpg

from shared.boards import Board, BoardOverride, apply_overrides
from shared.db import Connection


async def read_overrides(conn: Connection | asyncpg.Pool) -> list[BoardOverride]:
    return [BoardOverride.model_validate(r["data"]) for r in await conn.fetch("SELECT data FROM board_overrides")]


async def read_boards(conn: Connection | asyncpg.Pool) -> dict[str, Board]:
    """Every board, as shipped with the overrides of this schema applied."""
    return apply_overrides(await read_overrides(conn))


async def write_overrides(conn: Connection | asyncpg.Pool, overrides: Iterable[BoardOverride]) -> None:
    await conn.executemany(
        "INSERT INTO board_overrides (code, data) VALUES ($1, $2)"
        " ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data",
        [(b.code, b.model_dump(mode="json", exclude_none=True)) for b in overrides],
    )
