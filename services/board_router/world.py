"""Loads the world file's board overrides into the router schema (deadlines and latency it routes by)."""

import asyncpg

from shared.board_overrides import write_overrides
from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    await write_overrides(pool, world.boards)
