"""Loads the world file's board overrides into the router schema (deadlines and latency it routes by)."""

import asyncpg

from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    await pool.executemany(
        "INSERT INTO board_overrides (code, data) VALUES ($1, $2)"
        " ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data",
        [(b.code, b.model_dump(mode="json", exclude_none=True)) for b in world.boards],
    )
