"""Loads providers from the world file into the intake schema."""

import asyncpg

from shared.world import World


async def load_world(pool: asyncpg.Pool, world: World) -> None:
    await pool.executemany(
        "INSERT INTO providers (id, name, email) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email",
        [(p.id, p.name, p.email) for p in world.providers],
    )
